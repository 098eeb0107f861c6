/* sessions._ledger: the keyframe ledger's per-row work for small calls, in C.
 *
 * sessions.ledger.SceneLedger.append_rows notes every command row a LogWriter is given. For the
 * bulk of a busy recording, scalar setters and small Buffer.set_data writes, that is a few dict
 * operations per row, yet in Python it costs about as much writer-thread time as the recorder's
 * whole per-call work on the caller's side (benchmarks/README.md). Here it costs a fraction.
 *
 * Coalescer(kinds, latest, touched, pending, counts, buffer_bytes, whole_writes, setter_kind,
 *           set_data_kind)
 *     the ledger's own dicts (SceneLedger._kinds, ._latest, ._touched, ._pending, ._counts,
 *     ._buffer_bytes, .whole_writes; never replaced, only changed) and the values its op cache
 *     gives the two kinds of row handled here (sessions.ledger._SETTER, ._SET_DATA).
 *
 * Coalescer.take(ledger, rows, start, hold_min_bytes) -> index
 *     notes rows[start:] exactly as SceneLedger._coalesce does for the rows it handles inline,
 *     reading and updating ledger._n and ledger.scene_bytes, and stops at the first row it does
 *     not take: one whose op is not in the cache yet or of another kind, or with anything not of
 *     the exact types the inline path expects (keywords, an object argument, a payload of
 *     hold_min_bytes or more, a row or argument of another type). It returns that row's index,
 *     or len(rows); the ledger notes that row in Python and calls again after it. Stopping is
 *     always safe: the Python path decides every row this code does not.
 *
 * tests/sessions/test_sessions_ledger_c.py feeds random rows to a ledger with and without it
 * and compares every dict.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyObject_HEAD
    PyObject *kinds;
    PyObject *latest;
    PyObject *touched;
    PyObject *pending;
    PyObject *counts;
    PyObject *buffer_bytes;
    PyObject *whole_writes;
    long setter_kind;
    long set_data_kind;
} Coalescer;

/* Where one row went: noted (or replaced at once by the next), left to Python, or an error. */
enum { ROW_ERROR = -1, ROW_LEFT = 0, ROW_TAKEN = 1 };

/* What the ledger's running numbers are while a batch is noted here. */
typedef struct {
    long long n;           /* ledger._n, the last append number */
    long long scene_bytes; /* ledger.scene_bytes */
} Counters;

static PyObject *str_n, *str_scene_bytes;
static PyObject *int_zero, *int_minus_one;

/* sessions.ledger._PLAIN: the argument types a setter row may carry to be coalesced inline. */
static inline int
is_plain(PyObject *value)
{
    return value == Py_None || PyBool_Check(value) || PyLong_CheckExact(value) || PyFloat_CheckExact(value)
           || PyUnicode_CheckExact(value) || PyBytes_CheckExact(value);
}

/* 1 when both are the same exact str, 0 when not equal, -1 when `value` is not an exact str (the
 * caller leaves the row to Python). */
static inline int
same_str(PyObject *value, PyObject *str)
{
    if (value == str) {
        return 1;
    }
    if (!PyUnicode_CheckExact(value)) {
        return -1;
    }
    return PyUnicode_Compare(value, str) == 0;
}

/* `a == b` for two objects known to be exact ints (no Python code runs). */
static inline int
ints_equal(PyObject *a, PyObject *b)
{
    return a == b || PyObject_RichCompareBool(a, b, Py_EQ) == 1;
}

/* Whether rows[i + 1] is the same call on the same target that replaces rows[i] at once:
 * `following[2] == op and following[3] == target and not following[5] and len(following[4]) ==
 * nargs`. Writes the following args to *following_args. 1 yes, 0 no, -1 leave the row to Python. */
static int
next_is_same_call(PyObject *rows, Py_ssize_t i, PyObject *op, PyObject *target, Py_ssize_t nargs,
                  PyObject **following_args)
{
    if (i + 1 >= PyList_GET_SIZE(rows)) {
        return 0;
    }
    PyObject *following = PyList_GET_ITEM(rows, i + 1);
    if (!PyTuple_CheckExact(following) || PyTuple_GET_SIZE(following) != 6) {
        return -1;
    }
    int same = same_str(PyTuple_GET_ITEM(following, 2), op);
    if (same <= 0) {
        return same;
    }
    same = same_str(PyTuple_GET_ITEM(following, 3), target);
    if (same <= 0) {
        return same;
    }
    PyObject *kwargs = PyTuple_GET_ITEM(following, 5);
    if (!PyDict_CheckExact(kwargs)) {
        return -1;
    }
    if (PyDict_GET_SIZE(kwargs) != 0) {
        return 0;
    }
    PyObject *args = PyTuple_GET_ITEM(following, 4);
    if (!PyTuple_CheckExact(args)) {
        return -1;
    }
    *following_args = args;
    return PyTuple_GET_SIZE(args) == nargs;
}

/* `if previous is not None and touched.get(target) == previous: del pending[previous]` for the
 * pending command `key` names: replace it only when nothing touched its target since.
 * `missing_ok`: pending.pop(previous, None) instead, as the ledger does for set_data. */
static int
drop_replaced(Coalescer *self, PyObject *key, PyObject *target, int missing_ok)
{
    PyObject *previous = PyDict_GetItemWithError(self->latest, key); /* borrowed */
    if (previous == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *last_touch = PyDict_GetItemWithError(self->touched, target); /* borrowed */
    if (last_touch == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (!ints_equal(last_touch, previous)) {
        return 0;
    }
    Py_INCREF(previous);
    int status = PyDict_DelItem(self->pending, previous);
    Py_DECREF(previous);
    if (status < 0 && missing_ok && PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyErr_Clear();
        status = 0;
    }
    return status;
}

/* pending[n] = row; touched[target] = n; and latest[key] = n when key is given. */
static int
note_pending(Coalescer *self, long long n, PyObject *row, PyObject *target, PyObject *key)
{
    PyObject *number = PyLong_FromLongLong(n);
    if (number == NULL) {
        return -1;
    }
    int status = -1;
    if (key != NULL && PyDict_SetItem(self->latest, key, number) < 0) {
        goto done;
    }
    if (PyDict_SetItem(self->pending, number, row) < 0 || PyDict_SetItem(self->touched, target, number) < 0) {
        goto done;
    }
    status = 0;
done:
    Py_DECREF(number);
    return status;
}

/* Row `row`, numbered n, becomes the pending command of `key` (a new reference, stolen; NULL
 * after a failed build), replacing the one before it where nothing touched the target since. */
static int
note_replacing(Coalescer *self, PyObject *key, PyObject *target, int missing_ok, long long n, PyObject *row)
{
    if (key == NULL) {
        return ROW_ERROR;
    }
    int status = ROW_ERROR;
    if (drop_replaced(self, key, target, missing_ok) == 0 && note_pending(self, n, row, target, key) == 0) {
        status = ROW_TAKEN;
    }
    Py_DECREF(key);
    return status;
}

/* A plain setter: `setter_key = (target, op, len(args))`, replacing its previous pending call. */
static int
take_setter(Coalescer *self, PyObject *rows, Py_ssize_t i, PyObject *row, Counters *counters)
{
    PyObject *op = PyTuple_GET_ITEM(row, 2), *target = PyTuple_GET_ITEM(row, 3), *args = PyTuple_GET_ITEM(row, 4);
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    for (Py_ssize_t a = 0; a < nargs; a++) {
        if (!is_plain(PyTuple_GET_ITEM(args, a))) {
            return ROW_LEFT;
        }
    }
    PyObject *following_args = NULL;
    int same = next_is_same_call(rows, i, op, target, nargs, &following_args);
    if (same != 0) {
        return same > 0 ? ROW_TAKEN : ROW_LEFT;
    }
    counters->n += 1;
    return note_replacing(self, Py_BuildValue("(OOn)", target, op, nargs), target, 0, counters->n, row);
}

/* `args[1] == 0 and args[2] == counts.get(target, -1)` for an exact-int offset: 1, 0, or -1 to
 * leave the row to Python (a count that is not an exact int). */
static int
is_whole_write(Coalescer *self, PyObject *target, PyObject *offset, PyObject *count)
{
    if (!ints_equal(offset, int_zero)) {
        return 0;
    }
    if (!PyLong_CheckExact(count)) {
        return -1;
    }
    PyObject *known = PyDict_GetItemWithError(self->counts, target); /* borrowed */
    if (known == NULL && PyErr_Occurred()) {
        return -2;
    }
    PyObject *expected = known != NULL ? known : int_minus_one;
    if (!PyLong_CheckExact(expected)) {
        return -1;
    }
    return ints_equal(count, expected);
}

/* A small Buffer.set_data (bytes or bytearray under hold_min_bytes; offset and count ints): a
 * whole write replaces the buffer's previous pending whole write. */
static int
take_set_data(Coalescer *self, PyObject *rows, Py_ssize_t i, PyObject *row, Py_ssize_t hold_min, Counters *counters)
{
    PyObject *op = PyTuple_GET_ITEM(row, 2), *target = PyTuple_GET_ITEM(row, 3), *args = PyTuple_GET_ITEM(row, 4);
    if (PyTuple_GET_SIZE(args) != 3) {
        return ROW_LEFT;
    }
    PyObject *data = PyTuple_GET_ITEM(args, 0), *offset = PyTuple_GET_ITEM(args, 1), *count = PyTuple_GET_ITEM(args, 2);
    Py_ssize_t size;
    if (PyBytes_CheckExact(data)) {
        size = PyBytes_GET_SIZE(data);
    }
    else if (PyByteArray_CheckExact(data)) {
        size = PyByteArray_GET_SIZE(data);
    }
    else {
        return ROW_LEFT;
    }
    if (size >= hold_min || !PyLong_CheckExact(offset)) {
        return ROW_LEFT;
    }
    int whole = is_whole_write(self, target, offset, count);
    if (whole < 0) {
        return whole == -1 ? ROW_LEFT : ROW_ERROR;
    }
    if (whole) { /* the same buffer's next whole write replaces this one at once */
        PyObject *following_args = NULL;
        int same = next_is_same_call(rows, i, op, target, 3, &following_args);
        if (same < 0) {
            return ROW_LEFT;
        }
        if (same) {
            PyObject *next_offset = PyTuple_GET_ITEM(following_args, 1);
            PyObject *next_count = PyTuple_GET_ITEM(following_args, 2);
            if (!PyLong_CheckExact(next_offset)) {
                return ROW_LEFT;
            }
            if (ints_equal(next_offset, int_zero)) {
                if (!PyLong_CheckExact(next_count)) {
                    return ROW_LEFT;
                }
                if (ints_equal(next_count, count)) {
                    return ROW_TAKEN;
                }
            }
        }
    }
    counters->n += 1;
    /* whole_writes.pop(target, None): small contents are stored in keyframes */
    if (PyDict_DelItem(self->whole_writes, target) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            return ROW_ERROR;
        }
        PyErr_Clear();
    }
    if (!whole) {
        return note_pending(self, counters->n, row, target, NULL) == 0 ? ROW_TAKEN : ROW_ERROR;
    }
    /* scene_bytes += size - buffer_bytes.get(target, 0); buffer_bytes[target] = size */
    PyObject *before = PyDict_GetItemWithError(self->buffer_bytes, target); /* borrowed */
    if (before == NULL && PyErr_Occurred()) {
        return ROW_ERROR;
    }
    long long before_size = before != NULL ? PyLong_AsLongLong(before) : 0;
    if (before_size == -1 && PyErr_Occurred()) {
        return ROW_ERROR;
    }
    PyObject *size_obj = PyLong_FromSsize_t(size);
    if (size_obj == NULL) {
        return ROW_ERROR;
    }
    int stored = PyDict_SetItem(self->buffer_bytes, target, size_obj);
    Py_DECREF(size_obj);
    if (stored < 0) {
        return ROW_ERROR;
    }
    counters->scene_bytes += (long long)size - before_size;
    return note_replacing(self, PyTuple_Pack(2, target, op), target, 1, counters->n, row);
}

static int
take_row(Coalescer *self, PyObject *rows, Py_ssize_t i, Py_ssize_t hold_min, Counters *counters)
{
    PyObject *row = PyList_GET_ITEM(rows, i);
    if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) != 6) {
        return ROW_LEFT;
    }
    PyObject *op = PyTuple_GET_ITEM(row, 2), *target = PyTuple_GET_ITEM(row, 3);
    PyObject *args = PyTuple_GET_ITEM(row, 4), *kwargs = PyTuple_GET_ITEM(row, 5);
    if (!PyUnicode_CheckExact(op) || !PyUnicode_CheckExact(target) || !PyTuple_CheckExact(args)
        || !PyDict_CheckExact(kwargs) || PyDict_GET_SIZE(kwargs) != 0) {
        return ROW_LEFT;
    }
    PyObject *kind_obj = PyDict_GetItemWithError(self->kinds, op); /* borrowed */
    if (kind_obj == NULL) {
        return PyErr_Occurred() ? ROW_ERROR : ROW_LEFT; /* not classified yet: Python does it */
    }
    if (!PyLong_CheckExact(kind_obj)) {
        return ROW_LEFT;
    }
    long kind = PyLong_AsLong(kind_obj);
    if (kind == -1 && PyErr_Occurred()) {
        return ROW_ERROR;
    }
    /* The row stays alive while it is noted: replacing a pending row may free another. */
    Py_INCREF(row);
    int status = ROW_LEFT;
    if (kind == self->setter_kind) {
        status = take_setter(self, rows, i, row, counters);
    }
    else if (kind == self->set_data_kind) {
        status = take_set_data(self, rows, i, row, hold_min, counters);
    }
    Py_DECREF(row);
    return status;
}

static int
read_counter(PyObject *ledger, PyObject *name, long long *out)
{
    PyObject *value = PyObject_GetAttr(ledger, name);
    if (value == NULL) {
        return -1;
    }
    *out = PyLong_AsLongLong(value);
    Py_DECREF(value);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
write_counter(PyObject *ledger, PyObject *name, long long value)
{
    PyObject *number = PyLong_FromLongLong(value);
    if (number == NULL) {
        return -1;
    }
    int status = PyObject_SetAttr(ledger, name, number);
    Py_DECREF(number);
    return status;
}

static PyObject *
Coalescer_take(Coalescer *self, PyObject *const *argv, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "take() takes 4 arguments (ledger, rows, start, hold_min_bytes), %zd given",
                     nargs);
        return NULL;
    }
    if (self->kinds == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Coalescer.take() before __init__");
        return NULL;
    }
    PyObject *ledger = argv[0], *rows = argv[1];
    if (!PyList_CheckExact(rows)) {
        PyErr_SetString(PyExc_TypeError, "take(): rows must be a list");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(argv[2]);
    Py_ssize_t hold_min = PyLong_AsSsize_t(argv[3]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Counters counters;
    if (read_counter(ledger, str_n, &counters.n) < 0 || read_counter(ledger, str_scene_bytes, &counters.scene_bytes) < 0) {
        return NULL;
    }
    Counters at_start = counters;
    Py_INCREF(rows);
    Py_ssize_t i = start < 0 ? 0 : start;
    int status = ROW_TAKEN;
    for (; i < PyList_GET_SIZE(rows); i++) {
        status = take_row(self, rows, i, hold_min, &counters);
        if (status != ROW_TAKEN) {
            break;
        }
    }
    Py_DECREF(rows);
    /* The counters go back even after an error: the dicts hold the numbers already given out. */
    if (counters.n != at_start.n || counters.scene_bytes != at_start.scene_bytes) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        int written = write_counter(ledger, str_n, counters.n) == 0
                      && write_counter(ledger, str_scene_bytes, counters.scene_bytes) == 0;
        if (type != NULL) {
            PyErr_Restore(type, value, traceback);
        }
        else if (!written) {
            return NULL;
        }
    }
    if (status == ROW_ERROR) {
        return NULL;
    }
    return PyLong_FromSsize_t(i);
}

static int
Coalescer_init(Coalescer *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"kinds",        "latest",      "touched",       "pending", "counts", "buffer_bytes",
                            "whole_writes", "setter_kind", "set_data_kind", NULL};
    PyObject *dicts[7];
    long setter_kind, set_data_kind;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!O!O!O!O!O!ll", names, &PyDict_Type, &dicts[0], &PyDict_Type,
                                     &dicts[1], &PyDict_Type, &dicts[2], &PyDict_Type, &dicts[3], &PyDict_Type,
                                     &dicts[4], &PyDict_Type, &dicts[5], &PyDict_Type, &dicts[6], &setter_kind,
                                     &set_data_kind)) {
        return -1;
    }
    PyObject **slots[7] = {&self->kinds,  &self->latest,       &self->touched,     &self->pending,
                           &self->counts, &self->buffer_bytes, &self->whole_writes};
    for (int k = 0; k < 7; k++) {
        Py_INCREF(dicts[k]);
        Py_XSETREF(*slots[k], dicts[k]);
    }
    self->setter_kind = setter_kind;
    self->set_data_kind = set_data_kind;
    return 0;
}

static int
Coalescer_traverse(Coalescer *self, visitproc visit, void *arg)
{
    Py_VISIT(self->kinds);
    Py_VISIT(self->latest);
    Py_VISIT(self->touched);
    Py_VISIT(self->pending);
    Py_VISIT(self->counts);
    Py_VISIT(self->buffer_bytes);
    Py_VISIT(self->whole_writes);
    return 0;
}

static int
Coalescer_clear(Coalescer *self)
{
    Py_CLEAR(self->kinds);
    Py_CLEAR(self->latest);
    Py_CLEAR(self->touched);
    Py_CLEAR(self->pending);
    Py_CLEAR(self->counts);
    Py_CLEAR(self->buffer_bytes);
    Py_CLEAR(self->whole_writes);
    return 0;
}

static void
Coalescer_dealloc(Coalescer *self)
{
    PyObject_GC_UnTrack(self);
    Coalescer_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Coalescer_methods[] = {
    {"take", (PyCFunction)(void (*)(void))Coalescer_take, METH_FASTCALL,
     "take(ledger, rows, start, hold_min_bytes) -> index of the first row left to Python, or len(rows)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CoalescerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sessions._ledger.Coalescer",
    .tp_basicsize = sizeof(Coalescer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The keyframe ledger's inline rows (plain setters, small set_data) noted in C (see the module doc).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Coalescer_init,
    .tp_dealloc = (destructor)Coalescer_dealloc,
    .tp_traverse = (traverseproc)Coalescer_traverse,
    .tp_clear = (inquiry)Coalescer_clear,
    .tp_methods = Coalescer_methods,
};

static struct PyModuleDef ledger_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sessions._ledger",
    .m_doc = "The keyframe ledger's per-row work for plain setters and small set_data rows, in C.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__ledger(void)
{
    str_n = PyUnicode_InternFromString("_n");
    str_scene_bytes = PyUnicode_InternFromString("scene_bytes");
    int_zero = PyLong_FromLong(0);
    int_minus_one = PyLong_FromLong(-1);
    if (!str_n || !str_scene_bytes || !int_zero || !int_minus_one) {
        return NULL;
    }
    if (PyType_Ready(&CoalescerType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&ledger_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&CoalescerType);
    if (PyModule_AddObject(module, "Coalescer", (PyObject *)&CoalescerType) < 0) {
        Py_DECREF(&CoalescerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
