/* sessions._spare: big decode buffers whose memory is reused once nothing refers to them.
 *
 * take(size) returns a SpareBuffer: `size` writable bytes, not initialised, exported through the
 * buffer protocol (numpy arrays, memoryviews). When the last reference to it goes (every array and
 * view made from it holds one), its memory is kept as a spare instead of being freed, and a later
 * take() of about the same size gets it back.
 *
 * Why: glibc hands out every block of 32 MiB or more as new pages, and smaller ones too once freed
 * memory has been returned to the kernel. The kernel zeroes each new page on its first write and
 * takes a fault for it; decoding a 32 MB chunk into new pages on the 2-core development VM took twice
 * as long as lz4 decompressing it. Reused pages are already there.
 *
 * Bounds: at most MAX_SPARES spares and MAX_SPARE_BYTES in all (the oldest spares go first); memory
 * under MIN_SPARE_BYTES is left to the allocator, which reuses small blocks well. release() frees
 * every spare. The spare list has its own lock, so buffers may die on any thread.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <string.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#define MIN_SPARE_BYTES ((Py_ssize_t)1 << 20)
#define MAX_SPARE_BYTES ((Py_ssize_t)256 << 20)
#define MAX_SPARES 4
/* Huge pages are asked for from this size on, as numpy does for its own arrays. */
#define HUGE_PAGES_MIN_BYTES ((Py_ssize_t)4 << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)

typedef struct {
    char *data;
    Py_ssize_t capacity;
} Spare;

/* Spares, oldest first. Process-wide: the memory belongs to the process, not to an interpreter. */
static Spare spares[MAX_SPARES];
static int spare_count;
static Py_ssize_t spare_bytes;
static PyThread_type_lock spares_lock;

static void
advise_huge_pages(char *data, Py_ssize_t size)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (size >= HUGE_PAGES_MIN_BYTES) {
        uintptr_t start = ((uintptr_t)data + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        uintptr_t end = ((uintptr_t)data + (uintptr_t)size) & ~(HUGE_PAGE - 1);
        if (end > start) {
            (void)madvise((void *)start, end - start, MADV_HUGEPAGE); /* advice only: a refusal changes nothing */
        }
    }
#else
    (void)data;
    (void)size;
#endif
}

static void
drop_spare(int i) /* the lock is held */
{
    PyMem_RawFree(spares[i].data);
    spare_bytes -= spares[i].capacity;
    memmove(&spares[i], &spares[i + 1], (size_t)(spare_count - i - 1) * sizeof(Spare));
    spare_count--;
}

/* The smallest spare of `size` to twice `size` bytes, taken off the list; {NULL, 0} if none.
 * A much bigger one is left alone: the small buffer would keep all of it busy. */
static Spare
take_spare(Py_ssize_t size)
{
    Spare found = {NULL, 0};
    PyThread_acquire_lock(spares_lock, WAIT_LOCK);
    int best = -1;
    for (int i = 0; i < spare_count; i++) {
        Py_ssize_t capacity = spares[i].capacity;
        if (capacity >= size && capacity / 2 <= size && (best < 0 || capacity < spares[best].capacity)) {
            best = i;
        }
    }
    if (best >= 0) {
        found = spares[best];
        spare_bytes -= found.capacity;
        memmove(&spares[best], &spares[best + 1], (size_t)(spare_count - best - 1) * sizeof(Spare));
        spare_count--;
    }
    PyThread_release_lock(spares_lock);
    return found;
}

static void
give_back(char *data, Py_ssize_t capacity)
{
    if (capacity < MIN_SPARE_BYTES || capacity > MAX_SPARE_BYTES) {
        PyMem_RawFree(data);
        return;
    }
    PyThread_acquire_lock(spares_lock, WAIT_LOCK);
    while (spare_count > 0 && (spare_count == MAX_SPARES || spare_bytes + capacity > MAX_SPARE_BYTES)) {
        drop_spare(0);
    }
    spares[spare_count].data = data;
    spares[spare_count].capacity = capacity;
    spare_count++;
    spare_bytes += capacity;
    PyThread_release_lock(spares_lock);
}

/* ---- SpareBuffer ------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t size;
    Py_ssize_t capacity;
} SpareBuffer;

static int
SpareBuffer_getbuffer(SpareBuffer *self, Py_buffer *view, int flags)
{
    /* The view holds a reference to self: the memory is not given back while it is exported. */
    return PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->size, 0, flags);
}

static void
SpareBuffer_dealloc(SpareBuffer *self)
{
    PyTypeObject *type = Py_TYPE(self);
    give_back(self->data, self->capacity);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *
SpareBuffer_len_get(SpareBuffer *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->size);
}

static PyGetSetDef SpareBuffer_getset[] = {
    {"nbytes", (getter)SpareBuffer_len_get, NULL, "Bytes this buffer exports.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot spare_buffer_slots[] = {
    {Py_tp_doc, "Writable bytes from take(); their memory is kept for reuse once nothing refers to them."},
    {Py_tp_dealloc, SpareBuffer_dealloc},
    {Py_tp_getset, SpareBuffer_getset},
    {Py_bf_getbuffer, SpareBuffer_getbuffer},
    {0, NULL},
};

static PyType_Spec spare_buffer_spec = {
    .name = "sessions._spare.SpareBuffer",
    .basicsize = sizeof(SpareBuffer),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = spare_buffer_slots,
};

/* ---- module functions -------------------------------------------------------------------- */

typedef struct {
    PyTypeObject *spare_buffer_type;
} ModuleState;

static PyObject *
take(PyObject *module, PyObject *arg)
{
    Py_ssize_t size = PyLong_AsSsize_t(arg);
    if (size == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (size < 0) {
        PyErr_Format(PyExc_ValueError, "take(): size must be >= 0, not %zd", size);
        return NULL;
    }
    PyTypeObject *type = ((ModuleState *)PyModule_GetState(module))->spare_buffer_type;
    Spare memory = take_spare(size);
    if (memory.data == NULL) {
        memory.capacity = size > 0 ? size : 1;
        memory.data = PyMem_RawMalloc((size_t)memory.capacity);
        if (memory.data == NULL) {
            return PyErr_NoMemory();
        }
        advise_huge_pages(memory.data, memory.capacity);
    }
    SpareBuffer *self = (SpareBuffer *)type->tp_alloc(type, 0);
    if (self == NULL) {
        give_back(memory.data, memory.capacity);
        return NULL;
    }
    self->data = memory.data;
    self->size = size;
    self->capacity = memory.capacity;
    return (PyObject *)self;
}

PyDoc_STRVAR(take_doc,
"take(size, /)\n--\n\n"
"A SpareBuffer of `size` writable bytes, not initialised: a spare of `size` to twice `size` bytes\n"
"when one is free, else new memory.");

static PyObject *
release(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    PyThread_acquire_lock(spares_lock, WAIT_LOCK);
    Py_ssize_t freed = spare_bytes;
    while (spare_count > 0) {
        drop_spare(spare_count - 1);
    }
    PyThread_release_lock(spares_lock);
    return PyLong_FromSsize_t(freed);
}

PyDoc_STRVAR(release_doc,
"release()\n--\n\n"
"Free every spare; returns how many bytes they held. Buffers still in use are not affected.");

static PyObject *
held(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    PyThread_acquire_lock(spares_lock, WAIT_LOCK);
    PyObject *result = Py_BuildValue("(in)", spare_count, spare_bytes);
    PyThread_release_lock(spares_lock);
    return result;
}

PyDoc_STRVAR(held_doc,
"held()\n--\n\n"
"(number of spares, bytes they hold): memory kept for reuse, not in use.");

static PyMethodDef methods[] = {
    {"take", (PyCFunction)take, METH_O, take_doc},
    {"release", (PyCFunction)release, METH_NOARGS, release_doc},
    {"held", (PyCFunction)held, METH_NOARGS, held_doc},
    {NULL, NULL, 0, NULL},
};

static int
exec_module(PyObject *module)
{
    if (spares_lock == NULL) { /* once per process: the spares are shared by every import */
        spares_lock = PyThread_allocate_lock();
        if (spares_lock == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    PyObject *type = PyType_FromModuleAndSpec(module, &spare_buffer_spec, NULL);
    if (type == NULL) {
        return -1;
    }
    ((ModuleState *)PyModule_GetState(module))->spare_buffer_type = (PyTypeObject *)type;
    if (PyModule_AddObjectRef(module, "SpareBuffer", type) < 0) {
        return -1;
    }
    if (PyModule_AddIntConstant(module, "MIN_SPARE_BYTES", MIN_SPARE_BYTES) < 0 ||
        PyModule_AddIntConstant(module, "MAX_SPARE_BYTES", MAX_SPARE_BYTES) < 0) {
        return -1;
    }
    return PyModule_AddIntConstant(module, "MAX_SPARES", MAX_SPARES);
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    ModuleState *state = PyModule_GetState(module);
    if (state != NULL) {
        Py_VISIT(state->spare_buffer_type);
    }
    return 0;
}

static int
module_clear(PyObject *module)
{
    ModuleState *state = PyModule_GetState(module);
    if (state != NULL) {
        Py_CLEAR(state->spare_buffer_type);
    }
    return 0;
}

static void
module_free(void *module)
{
    (void)module_clear((PyObject *)module);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sessions._spare",
    .m_doc = "Big decode buffers whose memory is reused once nothing refers to them (see sessions.spare).",
    .m_size = sizeof(ModuleState),
    .m_methods = methods,
    .m_slots = slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__spare(void)
{
    return PyModuleDef_Init(&moduledef);
}
