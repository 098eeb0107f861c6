/* recorder._hotpath: the recorder's work for its two commonest calls, in C.
 *
 * A Recorder observes every captured GSP call. Most calls of a busy script are of two kinds: a
 * setter with scalar arguments on an object already in the log (viewport.set_x(3)), and a small
 * set_data(bytes or bytearray, offset, count) on a buffer. For those the Python observer only
 * takes the time, checks types and appends one tuple to the writer's deque, yet that costs
 * 1-2 us of interpreter work per call; here it costs a small fraction of that.
 *
 * HotPath(refs, hooks, items, versions, general, t0_ns, max_commands, small_payload,
 *         set_data_op)
 *     refs:      dict uuid -> Ref of the objects the log knows (read only here)
 *     hooks:     dict of the ops that need the general path (render, Buffer.new, set_data, frames)
 *     items:     the CommandQueue's deque; a queued item is (t_ns, op, uuid, args, kwargs, 0)
 *     versions:  BufferTracker.versions, dict uuid -> Buffer.version the log matches, -1 unknown
 *     general:   the Python observer, called with the same four arguments for any other call
 *     t0_ns:     time.monotonic_ns() at the start of the session
 *
 * HotPath.on_call(target, op, args, kwargs) mirrors the fast paths of recorder.core.Recorder
 * .on_call and ._small_set_data exactly (tests/recorder/test_recorder_hotpath.py records the same
 * calls through both and compares the logs); whatever it does not recognise, including a full
 * queue (the general path applies the backpressure), goes to `general` untouched. Setting
 * `failed` makes every call a no-op (the recorder stopped after a write error).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>

#if defined(__linux__)
#include <time.h>
#define GSP_CLOCK_GETTIME 1 /* time.monotonic_ns() is clock_gettime(CLOCK_MONOTONIC) on Linux */
#else
#define GSP_CLOCK_GETTIME 0
#endif

typedef struct {
    PyObject_HEAD
    PyObject *refs;
    PyObject *hooks;
    PyObject *items;
    PyObject *append; /* items.append, bound once */
    PyObject *versions;
    PyObject *general;
    PyObject *set_data_op;
    PyObject *monotonic_ns; /* time.monotonic_ns where clock_gettime is not the same clock */
    long long t0_ns;
    Py_ssize_t max_commands;
    Py_ssize_t small_payload;
    char failed;
} HotPath;

/* Interned attribute names, made once at import. */
/* Buffer's own fields, read directly: its properties storage_exposed and version, and
 * get_count(), are Python calls (about 0.25 us of the 2.4 us a small set_data costs the caller). */
static PyObject *str_uuid, *str_exposed, *str_version, *str_count, *str_append;
static PyObject *int_one, *int_unknown; /* 1 and -1 */

static int
now_ns(HotPath *self, long long *out)
{
#if GSP_CLOCK_GETTIME
    (void)self;
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
        *out = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        return 0;
    }
#endif
    PyObject *value = PyObject_CallNoArgs(self->monotonic_ns);
    if (value == NULL) {
        return -1;
    }
    *out = PyLong_AsLongLong(value);
    Py_DECREF(value);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* The argument types a setter may carry as they are (recorder.convert.PLAIN_TYPES). */
static inline int
is_plain(PyObject *value)
{
    return value == Py_None || PyBool_Check(value) || PyLong_CheckExact(value) || PyFloat_CheckExact(value)
           || PyUnicode_CheckExact(value) || PyBytes_CheckExact(value);
}

/* Take a tuple of scalars (or of such tuples, and empty dicts) out of the garbage collector's
 * sight, as the collector itself does when it first meets one (tuples are immutable: an atomic one
 * can never be part of a cycle). A busy recording keeps tens of thousands of queued calls and rows
 * alive for up to a flush interval; tracked, every collection walked them all again (about a
 * tenth of the CPU of recording small calls). */
static void
untrack_if_atomic(PyObject *tuple)
{
    if (!PyObject_GC_IsTracked(tuple)) {
        return;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyObject_GC_IsTracked(PyTuple_GET_ITEM(tuple, i))) {
            return;
        }
    }
    PyObject_GC_UnTrack(tuple);
}

/* Append (t_ns, op, uuid, args, kwargs, 0) to the deque. */
static int
queue_item(HotPath *self, long long t_ns, PyObject *op, PyObject *uuid, PyObject *args, PyObject *kwargs)
{
    PyObject *t = PyLong_FromLongLong(t_ns);
    if (t == NULL) {
        return -1;
    }
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL) {
        Py_DECREF(t);
        return -1;
    }
    untrack_if_atomic(args);
    PyObject *item = PyTuple_Pack(6, t, op, uuid, args, kwargs, zero);
    Py_DECREF(t);
    Py_DECREF(zero);
    if (item == NULL) {
        return -1;
    }
    untrack_if_atomic(item);
    PyObject *result = PyObject_CallOneArg(self->append, item);
    Py_DECREF(item);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

/* 1 when the deque is below its command limit, 0 when full, -1 on error. */
static int
has_room(HotPath *self)
{
    Py_ssize_t queued = PyObject_Length(self->items);
    if (queued < 0) {
        return -1;
    }
    return queued < self->max_commands;
}

/* Recorder._small_set_data for a buffer whose storage was never exposed: note the write's version,
 * queue the data as immutable bytes. 1 done, 0 not this path, -1 error. */
static int
small_set_data(HotPath *self, long long t_ns, PyObject *target, PyObject *op, PyObject *uuid, PyObject *args,
               PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 3) {
        return 0;
    }
    PyObject *data = PyTuple_GET_ITEM(args, 0);
    PyObject *offset = PyTuple_GET_ITEM(args, 1);
    PyObject *count = PyTuple_GET_ITEM(args, 2);
    Py_ssize_t size;
    if (PyBytes_CheckExact(data)) {
        size = PyBytes_GET_SIZE(data);
    }
    else if (PyByteArray_CheckExact(data)) {
        size = PyByteArray_GET_SIZE(data);
    }
    else {
        return 0;
    }
    if (!PyLong_CheckExact(offset) || !PyLong_CheckExact(count) || size >= self->small_payload) {
        return 0;
    }
    int room = has_room(self);
    if (room <= 0) {
        return room;
    }
    /* An exposed buffer is hashed instead (the general path does it). */
    PyObject *exposed = PyObject_GetAttr(target, str_exposed);
    if (exposed == NULL) {
        return -1;
    }
    int is_exposed = PyObject_IsTrue(exposed);
    Py_DECREF(exposed);
    if (is_exposed != 0) {
        return is_exposed < 0 ? -1 : 0;
    }

    int status = -1;
    PyObject *version = NULL, *items_count = NULL, *payload = NULL, *call = NULL;
    version = PyObject_GetAttr(target, str_version);
    if (version == NULL) {
        goto done;
    }
    /* BufferTracker.note_version: a whole write brings the log up to date; a partial one only if
     * the log matched the version before it. */
    int whole = 0;
    int is_zero = PyObject_Not(offset);
    if (is_zero < 0) {
        goto done;
    }
    if (is_zero) {
        items_count = PyObject_GetAttr(target, str_count);
        if (items_count == NULL) {
            goto done;
        }
        whole = PyObject_RichCompareBool(count, items_count, Py_EQ);
        if (whole < 0) {
            goto done;
        }
    }
    int up_to_date = whole;
    if (!up_to_date) {
        PyObject *previous = PyDict_GetItemWithError(self->versions, uuid); /* borrowed */
        if (previous == NULL && PyErr_Occurred()) {
            goto done;
        }
        if (previous != NULL) {
            PyObject *next = PyNumber_Add(previous, int_one);
            if (next == NULL) {
                goto done;
            }
            up_to_date = PyObject_RichCompareBool(next, version, Py_EQ);
            Py_DECREF(next);
            if (up_to_date < 0) {
                goto done;
            }
        }
    }
    if (up_to_date) {
        if (PyDict_SetItem(self->versions, uuid, version) < 0) {
            goto done;
        }
    }
    else {
        if (PyDict_SetItem(self->versions, uuid, int_unknown) < 0) {
            goto done;
        }
    }
    /* The data as immutable bytes: a bytearray is copied (the caller may change it later). */
    if (PyBytes_CheckExact(data)) {
        Py_INCREF(data);
        payload = data;
    }
    else {
        payload = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(data), PyByteArray_GET_SIZE(data));
        if (payload == NULL) {
            goto done;
        }
    }
    call = PyTuple_Pack(3, payload, offset, count);
    if (call == NULL) {
        goto done;
    }
    if (queue_item(self, t_ns, op, uuid, call, kwargs) < 0) {
        goto done;
    }
    status = 1;
done:
    Py_XDECREF(version);
    Py_XDECREF(items_count);
    Py_XDECREF(payload);
    Py_XDECREF(call);
    return status;
}

/* 1: queued here, 0: the general path's call, -1: error. */
static int
try_fast(HotPath *self, long long t_ns, PyObject *target, PyObject *op, PyObject *args, PyObject *kwargs)
{
    if (!PyTuple_CheckExact(args) || !PyDict_CheckExact(kwargs) || PyDict_GET_SIZE(kwargs) != 0
        || !PyUnicode_CheckExact(op)) {
        return 0;
    }
    PyObject *uuid = PyObject_GetAttr(target, str_uuid);
    if (uuid == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) { /* no UUID asked for yet: general path */
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    int status = 0;
    int known = PyUnicode_CheckExact(uuid) ? PyDict_Contains(self->refs, uuid) : 0;
    if (known <= 0) {
        status = known;
        goto done;
    }
    int hooked = PyDict_Contains(self->hooks, op);
    if (hooked < 0) {
        status = -1;
        goto done;
    }
    if (hooked) {
        int is_set_data = op == self->set_data_op ? 1 : PyObject_RichCompareBool(op, self->set_data_op, Py_EQ);
        status = is_set_data > 0 ? small_set_data(self, t_ns, target, op, uuid, args, kwargs) : is_set_data;
        goto done;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!is_plain(PyTuple_GET_ITEM(args, i))) {
            goto done;
        }
    }
    status = has_room(self);
    if (status > 0) {
        status = queue_item(self, t_ns, op, uuid, args, kwargs) < 0 ? -1 : 1;
    }
done:
    Py_DECREF(uuid);
    return status;
}

static PyObject *
HotPath_on_call(HotPath *self, PyObject *const *argv, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "on_call() takes 4 arguments (target, op, args, kwargs), %zd given", nargs);
        return NULL;
    }
    if (self->failed) {
        Py_RETURN_NONE;
    }
    long long t;
    if (now_ns(self, &t) < 0) {
        return NULL;
    }
    int done = try_fast(self, t - self->t0_ns, argv[0], argv[1], argv[2], argv[3]);
    if (done > 0) {
        Py_RETURN_NONE;
    }
    if (done < 0) {
        /* A property that raised, memory: the general path tries again and reports what it must
         * (a recorder problem never breaks the user's call); only non-Exceptions travel on. */
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
            return NULL;
        }
        PyErr_Clear();
    }
    return PyObject_Vectorcall(self->general, argv, 4, NULL);
}

static int
HotPath_init(HotPath *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"refs", "hooks", "items", "versions", "general", "t0_ns", "max_commands",
                            "small_payload", "set_data_op", NULL};
    PyObject *refs, *hooks, *items, *versions, *general, *set_data_op;
    long long t0_ns;
    Py_ssize_t max_commands, small_payload;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!OO!OLnnU:HotPath", names, &PyDict_Type, &refs,
                                     &PyDict_Type, &hooks, &items, &PyDict_Type, &versions, &general, &t0_ns,
                                     &max_commands, &small_payload, &set_data_op)) {
        return -1;
    }
    if (!PyCallable_Check(general)) {
        PyErr_SetString(PyExc_TypeError, "HotPath: general must be callable");
        return -1;
    }
    PyObject *append = PyObject_GetAttr(items, str_append);
    if (append == NULL) {
        return -1;
    }
    PyObject *time_module = PyImport_ImportModule("time");
    if (time_module == NULL) {
        Py_DECREF(append);
        return -1;
    }
    PyObject *monotonic_ns = PyObject_GetAttrString(time_module, "monotonic_ns");
    Py_DECREF(time_module);
    if (monotonic_ns == NULL) {
        Py_DECREF(append);
        return -1;
    }
    Py_INCREF(set_data_op);
    PyUnicode_InternInPlace(&set_data_op);
    Py_XSETREF(self->set_data_op, set_data_op);
    Py_XSETREF(self->append, append);
    Py_XSETREF(self->monotonic_ns, monotonic_ns);
    Py_INCREF(refs);
    Py_XSETREF(self->refs, refs);
    Py_INCREF(hooks);
    Py_XSETREF(self->hooks, hooks);
    Py_INCREF(items);
    Py_XSETREF(self->items, items);
    Py_INCREF(versions);
    Py_XSETREF(self->versions, versions);
    Py_INCREF(general);
    Py_XSETREF(self->general, general);
    self->t0_ns = t0_ns;
    self->max_commands = max_commands;
    self->small_payload = small_payload;
    self->failed = 0;
    return 0;
}

static int
HotPath_traverse(HotPath *self, visitproc visit, void *arg)
{
    Py_VISIT(self->refs);
    Py_VISIT(self->hooks);
    Py_VISIT(self->items);
    Py_VISIT(self->append);
    Py_VISIT(self->versions);
    Py_VISIT(self->general);
    Py_VISIT(self->monotonic_ns);
    return 0;
}

static int
HotPath_clear(HotPath *self)
{
    Py_CLEAR(self->refs);
    Py_CLEAR(self->hooks);
    Py_CLEAR(self->items);
    Py_CLEAR(self->append);
    Py_CLEAR(self->versions);
    Py_CLEAR(self->general);
    Py_CLEAR(self->set_data_op);
    Py_CLEAR(self->monotonic_ns);
    return 0;
}

static void
HotPath_dealloc(HotPath *self)
{
    PyObject_GC_UnTrack(self);
    HotPath_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* take_rows(items, rows, seq, last_t, small, limit) -> (seq, last_t, item or None)
 *
 * The writer thread's side: pops queued items and appends them to `rows` as
 * (seq, t_ns, op, target, args, kwargs), numbering them from seq + 1 and keeping time
 * non-decreasing from last_t, until the deque is empty, `rows` holds `limit` rows, or an item is
 * a control item (op None) or carries `small` payload bytes or more: that item is returned, popped
 * but not numbered, for the writer's general path (recorder.writer_thread.WriterThread._drain). */
static PyObject *
take_rows(PyObject *module, PyObject *const *argv, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError, "take_rows() takes 6 arguments, %zd given", nargs);
        return NULL;
    }
    PyObject *items = argv[0], *rows = argv[1];
    if (!PyList_Check(rows)) {
        PyErr_SetString(PyExc_TypeError, "take_rows(): rows must be a list");
        return NULL;
    }
    long long seq = PyLong_AsLongLong(argv[2]);
    long long last_t = PyLong_AsLongLong(argv[3]);
    Py_ssize_t small = PyLong_AsSsize_t(argv[4]);
    Py_ssize_t limit = PyLong_AsSsize_t(argv[5]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *popleft = PyObject_GetAttrString(items, "popleft");
    if (popleft == NULL) {
        return NULL;
    }
    PyObject *stop_item = NULL;
    int failed = 0;
    while (PyList_GET_SIZE(rows) < limit) {
        Py_ssize_t queued = PyObject_Length(items);
        if (queued <= 0) {
            failed = queued < 0;
            break;
        }
        PyObject *item = PyObject_CallNoArgs(popleft);
        if (item == NULL) {
            failed = 1;
            break;
        }
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 6) {
            Py_DECREF(item);
            PyErr_SetString(PyExc_TypeError, "take_rows(): a queued item is not a 6-tuple");
            failed = 1;
            break;
        }
        PyObject *op = PyTuple_GET_ITEM(item, 1);
        PyObject *nbytes = PyTuple_GET_ITEM(item, 5);
        Py_ssize_t payload = PyLong_CheckExact(nbytes) ? PyLong_AsSsize_t(nbytes) : small;
        if (payload == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            payload = small;
        }
        long long t_ns = PyLong_CheckExact(PyTuple_GET_ITEM(item, 0)) ? PyLong_AsLongLong(PyTuple_GET_ITEM(item, 0)) : -1;
        if (t_ns == -1 && PyErr_Occurred()) {
            PyErr_Clear();
        }
        if (op == Py_None || payload >= small || t_ns == -1) {
            stop_item = item; /* the general path's */
            break;
        }
        if (t_ns < last_t) { /* several producer threads */
            t_ns = last_t;
        }
        last_t = t_ns;
        PyObject *number = PyLong_FromLongLong(seq + 1);
        PyObject *time = PyLong_FromLongLong(t_ns);
        PyObject *row = (number && time) ? PyTuple_Pack(6, number, time, op, PyTuple_GET_ITEM(item, 2),
                                                        PyTuple_GET_ITEM(item, 3), PyTuple_GET_ITEM(item, 4))
                                         : NULL;
        Py_XDECREF(number);
        Py_XDECREF(time);
        Py_DECREF(item);
        if (row != NULL) {
            untrack_if_atomic(row);
        }
        if (row == NULL || PyList_Append(rows, row) < 0) {
            /* the item is lost either way: the writer reports the error */
            Py_XDECREF(row);
            failed = 1;
            break;
        }
        Py_DECREF(row);
        seq += 1;
    }
    Py_DECREF(popleft);
    if (failed) {
        return NULL;
    }
    PyObject *result = Py_BuildValue("LLO", seq, last_t, stop_item ? stop_item : Py_None);
    Py_XDECREF(stop_item);
    return result;
}

static PyMethodDef module_methods[] = {
    {"take_rows", (PyCFunction)(void (*)(void))take_rows, METH_FASTCALL,
     "take_rows(items, rows, seq, last_t, small, limit) -> (seq, last_t, item or None): number queued "
     "small commands into rows (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef HotPath_methods[] = {
    {"on_call", (PyCFunction)(void (*)(void))HotPath_on_call, METH_FASTCALL,
     "on_call(target, op, args, kwargs): queue the call here, or hand it to the general path."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef HotPath_members[] = {
    {"failed", T_BOOL, offsetof(HotPath, failed), 0, "True: every call is ignored (recording stopped)."},
    {"t0_ns", T_LONGLONG, offsetof(HotPath, t0_ns), 0,
     "Session start, time.monotonic_ns(); moved back when an animator paces the clock."},
    {"max_commands", T_PYSSIZET, offsetof(HotPath, max_commands), READONLY,
     "Queued commands beyond which calls take the general path (backpressure)."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject HotPathType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "recorder._hotpath.HotPath",
    .tp_basicsize = sizeof(HotPath),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The recorder's fast path for scalar setters and small set_data calls (see the module doc).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)HotPath_init,
    .tp_dealloc = (destructor)HotPath_dealloc,
    .tp_traverse = (traverseproc)HotPath_traverse,
    .tp_clear = (inquiry)HotPath_clear,
    .tp_methods = HotPath_methods,
    .tp_members = HotPath_members,
};

static struct PyModuleDef hotpath_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "recorder._hotpath",
    .m_doc = "The recorder's per-call work for scalar setters and small set_data calls, in C.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__hotpath(void)
{
    str_uuid = PyUnicode_InternFromString("_uuid");
    str_exposed = PyUnicode_InternFromString("_exposed");
    str_version = PyUnicode_InternFromString("_version");
    str_count = PyUnicode_InternFromString("_count");
    str_append = PyUnicode_InternFromString("append");
    int_one = PyLong_FromLong(1);
    int_unknown = PyLong_FromLong(-1);
    if (!int_one || !int_unknown || !str_uuid || !str_exposed || !str_version || !str_count || !str_append) {
        return NULL;
    }
    if (PyType_Ready(&HotPathType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&hotpath_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&HotPathType);
    if (PyModule_AddObject(module, "HotPath", (PyObject *)&HotPathType) < 0) {
        Py_DECREF(&HotPathType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
