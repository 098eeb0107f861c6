/* gsp._seam: the capture seam's wrapper for captured methods, in C.
 *
 * While an observer is registered every captured method of a gsp class is replaced by a wrapper
 * (gsp/capture.py, _make_wrapper). The Python wrappers cost 0.4-0.8 us per call on top of the
 * method itself, the largest Python layer left on the caller's thread of a recorded script; this
 * type does the same work for the commonest call shape in a fraction of that.
 *
 * CapturedMethod(original, method, arity, ops, general, state, capture_globals)
 *     original:        the class's own function (what the wrapper calls)
 *     method:          its attribute name ("set_x", "__init__"), for the op name
 *     arity:           the positional parameters after self that `original` requires, 1 to 3
 *     ops:             dict type -> op name, shared with `general` (filled by _cached_op)
 *     general:         the Python wrapper captured_call, for every other call shape
 *     state:           capture._state, the thread-local whose `box` is [nesting depth]
 *     capture_globals: gsp.capture's module dict (_observer_tuple and _cached_op are read there
 *                      at each call: add_observer replaces the tuple, it never mutates it)
 *
 * A call with exactly 1 + arity positional arguments and no keywords does what capture.py's
 * call1/call2/call3 do, line for line: read the depth from the same list the Python wrappers,
 * paused() and notify() use (so C and Python wrappers mix in one process); nested: call the
 * original only; outermost: raise the depth, call the original, then observer.on_call(self, op,
 * (args after self), {}) for each observer (a new tuple and dict each: observers may keep them),
 * lower the depth on every way out. Any other shape (keywords, fewer or more positionals) goes to
 * `general` unchanged, so errors and keyword handling stay Python's.
 *
 * The type is a method descriptor with vectorcall: obj.set_x(3) calls it with obj first and no
 * bound method made; obj.set_x gives a bound method, Class.set_x the wrapper itself. It carries a
 * __dict__ so that functools.update_wrapper works (__wrapped__ lets inspect.signature through).
 * capture.py keeps the Python wrappers as the reference; GSP_NO_C_SEAM=1 selects them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

typedef struct {
    PyObject_HEAD
    PyObject *original;
    PyObject *method;
    PyObject *ops;
    PyObject *general;
    PyObject *state;
    PyObject *globals;
    PyObject *dict;     /* __dict__: what functools.update_wrapper sets */
    PyObject *weakrefs; /* functions are weakly referenceable; so is this */
    Py_ssize_t arity;
    vectorcallfunc vectorcall;
} CapturedMethod;

/* Interned names and the two depth values, made once at import. */
static PyObject *str_box, *str_on_call, *str_observer_tuple, *str_cached_op, *str_qualname;
static PyObject *int_zero, *int_one;

/* box[0] = 0. PyList_SetItem steals the reference even when it fails (box emptied by someone:
 * IndexError, as Python's `box[0] = 0` would raise). */
static int
reset_depth(PyObject *box)
{
    Py_INCREF(int_zero);
    return PyList_SetItem(box, 0, int_zero);
}

/* Lower the depth with an exception pending, keeping that exception (Python's `finally`). */
static void
reset_depth_keeping_error(PyObject *box)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
    if (reset_depth(box) < 0) {
        Py_XDECREF(exc); /* the reset's own error wins, as in Python */
    }
    else {
        PyErr_SetRaisedException(exc);
    }
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (reset_depth(box) < 0) {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    else {
        PyErr_Restore(type, value, tb);
    }
#endif
}

/* The op name for type(target): ops[type], or capture._cached_op(ops, target, method) on a miss.
 * New reference, NULL on error. */
static PyObject *
op_for(CapturedMethod *cm, PyObject *target)
{
    PyObject *op = PyDict_GetItemWithError(cm->ops, (PyObject *)Py_TYPE(target));
    if (op != NULL) {
        return Py_NewRef(op);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *cached_op = PyDict_GetItemWithError(cm->globals, str_cached_op);
    if (cached_op == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_NameError, "name '%U' is not defined", str_cached_op);
        }
        return NULL;
    }
    Py_INCREF(cached_op); /* the call may rebind the global */
    PyObject *call_args[3] = {cm->ops, target, cm->method};
    op = PyObject_Vectorcall(cached_op, call_args, 3, NULL);
    Py_DECREF(cached_op);
    return op;
}

/* observer.on_call(target, op, tuple(args[0:n]), {}) for each observer of the current
 * _observer_tuple. 0 done, -1 error. */
static int
tell_observers(CapturedMethod *cm, PyObject *target, PyObject *op, PyObject *const *args, Py_ssize_t n)
{
    PyObject *current = PyDict_GetItemWithError(cm->globals, str_observer_tuple);
    if (current == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_NameError, "name '%U' is not defined", str_observer_tuple);
        }
        return -1;
    }
    /* Our own reference: an observer that adds or removes observers replaces the global, which
     * would free the tuple we are walking. Anything but a tuple is walked as a snapshot. */
    PyObject *observers = PyTuple_CheckExact(current) ? Py_NewRef(current) : PySequence_Tuple(current);
    if (observers == NULL) {
        return -1;
    }
    int status = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(observers); i++) {
        PyObject *call_args = PyTuple_New(n);
        if (call_args == NULL) {
            status = -1;
            break;
        }
        for (Py_ssize_t k = 0; k < n; k++) {
            PyTuple_SET_ITEM(call_args, k, Py_NewRef(args[k]));
        }
        PyObject *kwargs = PyDict_New();
        if (kwargs == NULL) {
            Py_DECREF(call_args);
            status = -1;
            break;
        }
        /* observer.on_call(...) as Python looks it up (an instance attribute wins), without a bound
         * method; stack[0] is scratch space that PY_VECTORCALL_ARGUMENTS_OFFSET allows. */
        PyObject *stack[6] = {NULL, PyTuple_GET_ITEM(observers, i), target, op, call_args, kwargs};
        PyObject *result =
            PyObject_VectorcallMethod(str_on_call, stack + 1, 5 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        Py_DECREF(call_args);
        Py_DECREF(kwargs);
        if (result == NULL) {
            status = -1;
            break;
        }
        Py_DECREF(result);
    }
    Py_DECREF(observers);
    return status;
}

static PyObject *
CapturedMethod_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    CapturedMethod *cm = (CapturedMethod *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != cm->arity + 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        /* Not the fixed shape: the Python wrapper handles it (and raises Python's errors). */
        return PyObject_Vectorcall(cm->general, args, nargsf, kwnames);
    }
    PyObject *box = PyObject_GetAttr(cm->state, str_box);
    if (box == NULL) {
        return NULL;
    }
    if (!PyList_CheckExact(box) || PyList_GET_SIZE(box) < 1) {
        /* Not the one-item list capture.py keeps: let Python do (and fail) what it does. */
        Py_DECREF(box);
        return PyObject_Vectorcall(cm->general, args, nargsf, NULL);
    }
    PyObject *depth = PyList_GET_ITEM(box, 0);
    int nested = 0;
    if (depth != int_zero) { /* 0 is a cached small int: the common case costs a compare */
        Py_INCREF(depth);
        nested = PyObject_IsTrue(depth);
        Py_DECREF(depth);
        if (nested < 0) {
            Py_DECREF(box);
            return NULL;
        }
    }
    /* Our caller's PY_VECTORCALL_ARGUMENTS_OFFSET (if any) passes on with the same array. */
    if (nested) { /* inside another captured call, or paused(): not reported */
        Py_DECREF(box);
        return PyObject_Vectorcall(cm->original, args, nargsf, NULL);
    }
    Py_INCREF(int_one);
    if (PyList_SetItem(box, 0, int_one) < 0) { /* stays raised while observers run */
        Py_DECREF(box);
        return NULL;
    }
    PyObject *result = PyObject_Vectorcall(cm->original, args, nargsf, NULL);
    if (result == NULL) {
        goto error;
    }
    PyObject *op = op_for(cm, args[0]);
    if (op == NULL) {
        goto error;
    }
    int told = tell_observers(cm, args[0], op, args + 1, cm->arity);
    Py_DECREF(op);
    if (told < 0) {
        goto error;
    }
    if (reset_depth(box) < 0) {
        Py_CLEAR(result);
    }
    Py_DECREF(box);
    return result;

error:
    Py_XDECREF(result);
    reset_depth_keeping_error(box);
    Py_DECREF(box);
    return NULL;
}

static PyObject *
CapturedMethod_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"original", "method", "arity", "ops", "general", "state", "capture_globals", NULL};
    PyObject *original, *method, *ops, *general, *state, *globals;
    Py_ssize_t arity;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OUnO!OOO!:CapturedMethod", kwlist, &original, &method, &arity,
                                     &PyDict_Type, &ops, &general, &state, &PyDict_Type, &globals)) {
        return NULL;
    }
    if (arity < 1 || arity > 3) {
        PyErr_Format(PyExc_ValueError, "arity must be 1, 2 or 3, not %zd", arity);
        return NULL;
    }
    if (!PyCallable_Check(original) || !PyCallable_Check(general)) {
        PyErr_SetString(PyExc_TypeError, "original and general must be callable");
        return NULL;
    }
    CapturedMethod *cm = (CapturedMethod *)type->tp_alloc(type, 0);
    if (cm == NULL) {
        return NULL;
    }
    cm->original = Py_NewRef(original);
    cm->method = Py_NewRef(method);
    cm->ops = Py_NewRef(ops);
    cm->general = Py_NewRef(general);
    cm->state = Py_NewRef(state);
    cm->globals = Py_NewRef(globals);
    cm->arity = arity;
    cm->vectorcall = CapturedMethod_vectorcall;
    return (PyObject *)cm;
}

static int
CapturedMethod_traverse(CapturedMethod *cm, visitproc visit, void *arg)
{
    Py_VISIT(cm->original);
    Py_VISIT(cm->method);
    Py_VISIT(cm->ops);
    Py_VISIT(cm->general);
    Py_VISIT(cm->state);
    Py_VISIT(cm->globals);
    Py_VISIT(cm->dict);
    return 0;
}

static int
CapturedMethod_clear(CapturedMethod *cm)
{
    Py_CLEAR(cm->original);
    Py_CLEAR(cm->method);
    Py_CLEAR(cm->ops);
    Py_CLEAR(cm->general);
    Py_CLEAR(cm->state);
    Py_CLEAR(cm->globals);
    Py_CLEAR(cm->dict);
    return 0;
}

static void
CapturedMethod_dealloc(CapturedMethod *cm)
{
    PyObject_GC_UnTrack(cm);
    if (cm->weakrefs != NULL) {
        PyObject_ClearWeakRefs((PyObject *)cm);
    }
    CapturedMethod_clear(cm);
    Py_TYPE(cm)->tp_free((PyObject *)cm);
}

/* Like a function: a bound method on an instance, the wrapper itself on the class. */
static PyObject *
CapturedMethod_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    if (obj == NULL || obj == Py_None) {
        return Py_NewRef(self);
    }
    return PyMethod_New(self, obj);
}

static PyObject *
CapturedMethod_repr(CapturedMethod *cm)
{
    PyObject *name = cm->dict != NULL ? PyDict_GetItemWithError(cm->dict, str_qualname) : NULL;
    if (name == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (name != NULL && PyUnicode_Check(name)) {
        return PyUnicode_FromFormat("<captured function %U at %p>", name, cm);
    }
    return PyUnicode_FromFormat("<captured function %R at %p>", cm->original, cm);
}

static PyObject *
CapturedMethod_get_original(CapturedMethod *cm, void *closure)
{
    (void)closure;
    return Py_NewRef(cm->original);
}

static PyObject *
CapturedMethod_get_arity(CapturedMethod *cm, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(cm->arity);
}

static PyGetSetDef CapturedMethod_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {"original", (getter)CapturedMethod_get_original, NULL, "The wrapped function.", NULL},
    {"arity", (getter)CapturedMethod_get_arity, NULL, "Positional arguments after self of the fast shape.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CapturedMethodType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gsp._seam.CapturedMethod",
    .tp_basicsize = sizeof(CapturedMethod),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_doc = "A captured method's wrapper: reports outermost calls to the seam's observers (see the module doc).",
    .tp_new = CapturedMethod_new,
    .tp_dealloc = (destructor)CapturedMethod_dealloc,
    .tp_traverse = (traverseproc)CapturedMethod_traverse,
    .tp_clear = (inquiry)CapturedMethod_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(CapturedMethod, vectorcall),
    .tp_descr_get = CapturedMethod_descr_get,
    .tp_repr = (reprfunc)CapturedMethod_repr,
    .tp_getattro = PyObject_GenericGetAttr,
    .tp_setattro = PyObject_GenericSetAttr,
    .tp_getset = CapturedMethod_getset,
    .tp_dictoffset = offsetof(CapturedMethod, dict),
    .tp_weaklistoffset = offsetof(CapturedMethod, weakrefs),
};

static struct PyModuleDef seam_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gsp._seam",
    .m_doc = "The capture seam's method wrapper, in C (see gsp/capture.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__seam(void)
{
    str_box = PyUnicode_InternFromString("box");
    str_on_call = PyUnicode_InternFromString("on_call");
    str_observer_tuple = PyUnicode_InternFromString("_observer_tuple");
    str_cached_op = PyUnicode_InternFromString("_cached_op");
    str_qualname = PyUnicode_InternFromString("__qualname__");
    int_zero = PyLong_FromLong(0);
    int_one = PyLong_FromLong(1);
    if (!str_box || !str_on_call || !str_observer_tuple || !str_cached_op || !str_qualname || !int_zero || !int_one) {
        return NULL;
    }
    if (PyType_Ready(&CapturedMethodType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&seam_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&CapturedMethodType);
    if (PyModule_AddObject(module, "CapturedMethod", (PyObject *)&CapturedMethodType) < 0) {
        Py_DECREF(&CapturedMethodType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
