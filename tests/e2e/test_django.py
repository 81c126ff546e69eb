"""A Django project served by fasthttpd through Django's own ASGI handler.

The project is the minimal one `django-admin startproject` would give (settings, URLs,
views, asgi.py), written to a temporary directory and started as its users would:
`fasthttpd mysite.asgi:application`.
"""

from __future__ import annotations

import django  # noqa: F401  (a test dependency: missing, this file fails, never skips)
import httpx
import pytest

from tests.e2e.conftest import IMPLEMENTATIONS, run_server

SETTINGS = '''
SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "mysite.urls"
INSTALLED_APPS = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware",
              "django.middleware.csrf.CsrfViewMiddleware"]
DATABASES = {}
USE_TZ = True
'''

URLS = '''
from django.urls import path
from mysite import views

urlpatterns = [path("", views.hello), path("submit/", views.submit),
               path("protected/", views.protected), path("async/", views.async_view)]
'''

VIEWS = '''
import json
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


def hello(request):
    return HttpResponse(f"hello {request.scheme} {request.get_full_path()}")


@csrf_exempt
def submit(request):
    if request.content_type == "application/json":
        data = json.loads(request.body)
    else:
        data = {key: request.POST[key] for key in request.POST}
    files = {name: f.read().decode() for name, f in request.FILES.items()}
    return JsonResponse({"method": request.method, "data": data, "files": files})


def protected(request):  # CSRF-protected: a POST without the token is refused
    return HttpResponse("posted")


async def async_view(request):
    return HttpResponse("async view")
'''

ASGI = '''
import os
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
application = get_asgi_application()
'''


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def django_server(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("django")
    package = root / "mysite"
    package.mkdir()
    for name, text in {"__init__.py": "", "settings.py": SETTINGS, "urls.py": URLS,
                       "views.py": VIEWS, "asgi.py": ASGI}.items():
        (package / name).write_text(text)
    with run_server("--app-dir", str(root), app="mysite.asgi:application",
                    impl=request.param) as server:
        yield server


def test_get_with_query(django_server):
    response = httpx.get(django_server.url + "/?page=2", timeout=5)
    assert response.status_code == 200
    assert response.text == "hello http /?page=2"


def test_post_form_json_and_multipart(django_server):
    with httpx.Client(base_url=django_server.url, timeout=5) as client:
        form = client.post("/submit/", data={"x": "1", "y": "two"})
        assert form.json() == {"method": "POST", "data": {"x": "1", "y": "two"}, "files": {}}
        body = client.post("/submit/", json={"k": [1, 2]})
        assert body.json()["data"] == {"k": [1, 2]}
        upload = client.post("/submit/", data={"z": "3"},
                             files={"f": ("notes.txt", b"file body")})
        assert upload.json()["files"] == {"f": "file body"}
        assert upload.json()["data"] == {"z": "3"}


def test_not_found_csrf_and_disallowed_host(django_server):
    with httpx.Client(base_url=django_server.url, timeout=5) as client:
        assert client.get("/nope").status_code == 404
        assert client.post("/protected/", data={"a": "1"}).status_code == 403
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
        # CommonMiddleware's APPEND_SLASH redirect.
        redirect = client.get("/submit")
        assert redirect.status_code == 301 and redirect.headers["location"] == "/submit/"


def test_async_view_and_http2(django_server):
    with httpx.Client(base_url=django_server.url, timeout=5, http1=False,
                      http2=True) as client:
        response = client.get("/async/")
        assert response.http_version == "HTTP/2"
        assert response.text == "async view"
        assert client.post("/submit/", data={"h": "2"}).json()["data"] == {"h": "2"}


def test_no_error_logged(django_server):
    httpx.get(django_server.url + "/", timeout=5)
    log = django_server.log()
    assert "ERROR" not in log and "Traceback" not in log, log
