# fasthttpd/factory.py is compiled (setup.py compiles every .py with a .pxd beside
# it): the connection calls select_driver once per connection, and its common case
# (cleartext HTTP/1.1) is cheaper as C. The classes stay Python classes (the
# default factory subclasses the HttpDriverFactory ABC), so nothing is declared.
