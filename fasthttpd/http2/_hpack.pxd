# Layouts of the compiled HPACK codec's classes (see _hpack.pyx), so that the
# compiled HTTP/2 core can cimport them and call decode()/encode() directly.


cdef class DynamicTable:
    # Entries are (name, value) tuples in a ring: the oldest at `oldest`, the
    # newest at (oldest + count - 1) % capacity. RFC 7541 2.3.2, 4.
    cdef list ring
    cdef Py_ssize_t capacity  # len(ring); doubles when full
    cdef Py_ssize_t oldest
    cdef Py_ssize_t count
    cdef Py_ssize_t size  # sum of entry sizes (RFC 7541 4.1)
    cdef Py_ssize_t max_size  # the current maximum (RFC 7541 4.2)

    cdef tuple get(self, Py_ssize_t position)  # 0 = newest
    cdef void push(self, tuple entry, Py_ssize_t entry_size)
    cdef tuple pop_oldest(self)


cdef class Decoder:
    cdef DynamicTable table
    # Our SETTINGS_HEADER_TABLE_SIZE, once acknowledged.
    cdef public Py_ssize_t max_allowed_table_size
    cdef public Py_ssize_t max_header_list_size  # RFC 9113 6.5.2, sizes of 4.1
    # Scratch space for Huffman-decoded strings.
    cdef unsigned char* scratch
    cdef Py_ssize_t scratch_capacity

    cpdef list decode(self, bytes block)
    cdef object _field(self, Py_ssize_t index)
    cdef bytes _string(self, const unsigned char* data, Py_ssize_t end, Py_ssize_t* pos)
    cdef bytes _huffman(self, const unsigned char* data, Py_ssize_t length)
    cdef int _add(self, tuple entry) except -1
    cdef int _resize(self, Py_ssize_t max_size) except -1


cdef class Encoder:
    cdef DynamicTable table
    cdef Py_ssize_t limit  # the most this encoder uses, whatever the peer allows
    cdef long long inserted  # entries ever added; the newest has id `inserted`
    cdef dict field_ids  # (name, value) -> id of the newest entry holding it
    cdef dict name_ids  # name -> id of the newest entry with that name
    # Size updates owed at the start of the next block (RFC 7541 4.2).
    cdef bint update_pending
    cdef Py_ssize_t update_smallest
    # The block being built.
    cdef unsigned char* out
    cdef Py_ssize_t out_len
    cdef Py_ssize_t out_capacity

    cpdef bytes encode(self, list headers)
    cpdef set_max_table_size(self, long long size)  # SETTINGS values reach 2**32 - 1
    cdef Py_ssize_t _dynamic_index(self, long long entry_id)
    cdef int _evict_to(self, Py_ssize_t max_size) except -1
    cdef int _add(self, tuple entry, Py_ssize_t entry_size) except -1
    cdef int _reserve(self, Py_ssize_t extra) except -1
    cdef int _integer(self, unsigned char flags, int prefix_bits, Py_ssize_t value) except -1
    cdef int _string(self, bytes text) except -1
