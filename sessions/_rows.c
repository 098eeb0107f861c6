/* sessions._rows: command rows in C: msgpack packing (the fast path of sessions.codec.encode_rows)
 * and reading Commands from rows (the fast paths of sessions.codec.decode_commands).
 *
 * pack_rows(rows, pack_other) -> bytes
 * build_commands(rows, command_type) -> (list of commands, -1) or (None, index of a bad row)
 * decode_rows(meta, ext_hook, command_type, limit) -> list of commands, or None (see below)
 * decoded_size(data, limit) -> estimated bytes of memory the msgpack in `data` decodes to
 *
 * `rows` is a list of (seq, t_ns, op, target, args, kwargs) tuples. The result is one msgpack array
 * of the rows, byte for byte what msgpack.packb(rows, use_bin_type=True) gives after
 * sessions.codec has converted the rows: a "plain" row is packed here, every other row is handed to
 * `pack_other(row)`, in row order (the Python encoder gives blob offsets in call order), and the
 * bytes it returns (that row's complete msgpack encoding) are spliced in.
 *
 * A row is plain when it is an exact 6-tuple whose seq and t_ns are exact ints that fit in 64 bits,
 * op and target exact str (UTF-8 encodable), args an exact tuple or list of None, bool, exact int
 * (64 bits), exact float, exact str or exact bytes shorter than INLINE_MAX, and kwargs an exact
 * empty dict. Those are the rows the Python encoder hands to msgpack unchanged, and the encodings
 * below are msgpack-python's defaults for them: ints in the smallest form (non-negative ones
 * unsigned), floats as float 64, str as fixstr/str 8/16/32, bytes as bin 8/16/32. Subclasses
 * (IntEnum, str subclasses), bytearray, numpy values, kwargs etc. go to pack_other.
 *
 * Exceptions raised by pack_other propagate unchanged. The GIL is held throughout: the function
 * reads Python objects, and pack_other is Python code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Bytes at least this long leave the row to pack_other (they may go out of band). Must equal
 * sessions.codec.INLINE_MAX: the module exports it, codec refuses a module that disagrees, and the
 * tests check it. */
#define INLINE_MAX 256
/* msgpack's largest str / bin / array length (32-bit length fields). */
#define ITEM_LIMIT 0xFFFFFFFFu
/* Largest output: _PyBytes_Resize adds the object header to the size without checking overflow. */
#define OUT_MAX (PY_SSIZE_T_MAX - 1024)
/* First guess of the output size per row (a small command packs to 40..100 bytes), for at most
 * ROW_GUESS_MAX_ROWS rows. */
#define ROW_GUESS 64
#define ROW_GUESS_MAX_ROWS ((Py_ssize_t)1 << 20)

#if defined(__GNUC__) || defined(__clang__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline))
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#define NOINLINE
#endif

/* ------------------------------------------------------------------------------------------ */
/* Output buffer: a bytes object written in place, grown geometrically, shrunk at the end      */
/* (no copy of the whole batch into a second object).                                          */
/* ------------------------------------------------------------------------------------------ */
typedef struct {
    PyObject *bytes; /* owned; NULL after a failed resize (which frees it) */
    unsigned char *data;
    Py_ssize_t len; /* bytes written */
    Py_ssize_t cap; /* PyBytes_GET_SIZE(bytes) */
} Out;

static NOINLINE int
grow(Out *o, Py_ssize_t need)
{
    if (need > OUT_MAX - o->len) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t want = o->len + need;
    Py_ssize_t cap = o->cap <= OUT_MAX / 2 ? 2 * o->cap : OUT_MAX;
    if (cap < want) {
        cap = want;
    }
    if (_PyBytes_Resize(&o->bytes, cap) < 0) {
        return -1;
    }
    o->data = (unsigned char *)PyBytes_AS_STRING(o->bytes);
    o->cap = cap;
    return 0;
}

/* Room for `need` more bytes (need >= 0). */
static inline int
reserve(Out *o, Py_ssize_t need)
{
    return LIKELY(o->cap - o->len >= need) ? 0 : grow(o, need);
}

/* The put_* functions write after a reserve() that made room. */
static inline void
put1(Out *o, unsigned v)
{
    o->data[o->len++] = (unsigned char)v;
}

static inline void
put_be16(Out *o, unsigned v)
{
    unsigned char *p = o->data + o->len;
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    o->len += 2;
}

static inline void
put_be32(Out *o, uint32_t v)
{
    unsigned char *p = o->data + o->len;
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    o->len += 4;
}

static inline void
put_be64(Out *o, uint64_t v)
{
    unsigned char *p = o->data + o->len;
    for (int k = 0; k < 8; k++) {
        p[k] = (unsigned char)(v >> (56 - 8 * k));
    }
    o->len += 8;
}

/* ------------------------------------------------------------------------------------------ */
/* msgpack encodings (as msgpack-python's packer writes them)                                  */
/* ------------------------------------------------------------------------------------------ */
#define MAX_INT_BYTES 9

/* Non-negative: positive fixint, uint 8/16/32/64. */
static inline void
put_uint(Out *o, uint64_t v)
{
    if (v < 0x80) {
        put1(o, (unsigned)v);
    }
    else if (v < 0x100) {
        put1(o, 0xcc);
        put1(o, (unsigned)v);
    }
    else if (v < 0x10000) {
        put1(o, 0xcd);
        put_be16(o, (unsigned)v);
    }
    else if (v < 0x100000000ull) {
        put1(o, 0xce);
        put_be32(o, (uint32_t)v);
    }
    else {
        put1(o, 0xcf);
        put_be64(o, v);
    }
}

/* Negative: negative fixint, int 8/16/32/64. */
static inline void
put_negative(Out *o, int64_t v)
{
    if (v >= -32) {
        put1(o, (unsigned)(uint8_t)(int8_t)v);
    }
    else if (v >= -128) {
        put1(o, 0xd0);
        put1(o, (unsigned)(uint8_t)(int8_t)v);
    }
    else if (v >= -32768) {
        put1(o, 0xd1);
        put_be16(o, (unsigned)(uint16_t)(int16_t)v);
    }
    else if (v >= INT32_MIN) {
        put1(o, 0xd2);
        put_be32(o, (uint32_t)(int32_t)v);
    }
    else {
        put1(o, 0xd3);
        put_be64(o, (uint64_t)v);
    }
}

/* Array header of n <= ITEM_LIMIT items (5 bytes at most). */
static inline void
put_array_header(Out *o, size_t n)
{
    if (n < 16) {
        put1(o, 0x90 | (unsigned)n);
    }
    else if (n < 0x10000) {
        put1(o, 0xdc);
        put_be16(o, (unsigned)n);
    }
    else {
        put1(o, 0xdd);
        put_be32(o, (uint32_t)n);
    }
}

/* Results of the pack_* functions below. */
#define PACKED 1
#define NOT_PLAIN 0
#define FAILED (-1)

/* An exact int. */
static inline int
pack_int(Out *o, PyObject *v)
{
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (LIKELY(overflow == 0)) {
        if (UNLIKELY(x == -1 && PyErr_Occurred())) {
            return FAILED;
        }
        if (reserve(o, MAX_INT_BYTES) < 0) {
            return FAILED;
        }
        if (x >= 0) {
            put_uint(o, (uint64_t)x);
        }
        else {
            put_negative(o, (int64_t)x);
        }
        return PACKED;
    }
    if (overflow < 0) {
        return NOT_PLAIN; /* below -2**63: msgpack refuses it, pack_other reports it */
    }
    unsigned long long u = PyLong_AsUnsignedLongLong(v); /* 2**63 .. 2**64-1 fit as uint 64 */
    if (u == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return FAILED;
        }
        PyErr_Clear();
        return NOT_PLAIN;
    }
    if (reserve(o, MAX_INT_BYTES) < 0) {
        return FAILED;
    }
    put_uint(o, (uint64_t)u);
    return PACKED;
}

/* A raw body with its header: str (0xa0/0xd9/0xda/0xdb) or bin (0xc4/0xc5/0xc6). */
static inline int
pack_raw(Out *o, const char *s, Py_ssize_t len, int is_str)
{
    if ((size_t)len > ITEM_LIMIT) {
        return NOT_PLAIN; /* msgpack raises ValueError: pack_other reports it */
    }
    if (reserve(o, 5 + len) < 0) { /* no overflow: len < 2**32 */
        return FAILED;
    }
    if (is_str) {
        if (len < 32) {
            put1(o, 0xa0 | (unsigned)len);
        }
        else if (len < 0x100) {
            put1(o, 0xd9); /* str 8: msgpack-python writes it with use_bin_type=True */
            put1(o, (unsigned)len);
        }
        else if (len < 0x10000) {
            put1(o, 0xda);
            put_be16(o, (unsigned)len);
        }
        else {
            put1(o, 0xdb);
            put_be32(o, (uint32_t)len);
        }
    }
    else {
        if (len < 0x100) {
            put1(o, 0xc4);
            put1(o, (unsigned)len);
        }
        else if (len < 0x10000) {
            put1(o, 0xc5);
            put_be16(o, (unsigned)len);
        }
        else {
            put1(o, 0xc6);
            put_be32(o, (uint32_t)len);
        }
    }
    memcpy(o->data + o->len, s, (size_t)len);
    o->len += len;
    return PACKED;
}

/* An exact str, as UTF-8. */
static inline int
pack_str(Out *o, PyObject *v)
{
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(v, &len); /* ASCII: the string's own data, no copy */
    if (UNLIKELY(s == NULL)) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            return FAILED; /* MemoryError */
        }
        PyErr_Clear(); /* a lone surrogate: pack_other (msgpack) reports it */
        return NOT_PLAIN;
    }
    return pack_raw(o, s, len, 1);
}

/* One argument: None, bool, exact int / float / str, exact bytes shorter than INLINE_MAX. */
static inline int
pack_arg(Out *o, PyObject *v)
{
    PyTypeObject *type = Py_TYPE(v);
    if (type == &PyLong_Type) {
        return pack_int(o, v);
    }
    if (type == &PyUnicode_Type) {
        return pack_str(o, v);
    }
    if (type == &PyFloat_Type) {
        double d = PyFloat_AS_DOUBLE(v);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        if (reserve(o, 9) < 0) {
            return FAILED;
        }
        put1(o, 0xcb);
        put_be64(o, bits);
        return PACKED;
    }
    if (type == &PyBytes_Type) {
        Py_ssize_t len = PyBytes_GET_SIZE(v);
        if (len >= INLINE_MAX) {
            return NOT_PLAIN; /* out of band, maybe: the Python encoder decides */
        }
        return pack_raw(o, PyBytes_AS_STRING(v), len, 0);
    }
    if (v == Py_None || v == Py_True || v == Py_False) { /* bool has no subclasses */
        if (reserve(o, 1) < 0) {
            return FAILED;
        }
        put1(o, v == Py_None ? 0xc0 : v == Py_True ? 0xc3 : 0xc2);
        return PACKED;
    }
    return NOT_PLAIN;
}

/* A whole row. On NOT_PLAIN the caller rewinds the output to the row's start. No Python code runs
 * here (exact types only), so nothing can change the row while it is read. */
static int
pack_row(Out *o, PyObject *row)
{
    if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) != 6) {
        return NOT_PLAIN;
    }
    PyObject *seq = PyTuple_GET_ITEM(row, 0), *t_ns = PyTuple_GET_ITEM(row, 1);
    PyObject *op = PyTuple_GET_ITEM(row, 2), *target = PyTuple_GET_ITEM(row, 3);
    PyObject *args = PyTuple_GET_ITEM(row, 4), *kwargs = PyTuple_GET_ITEM(row, 5);
    if (!PyLong_CheckExact(seq) || !PyLong_CheckExact(t_ns) || !PyUnicode_CheckExact(op)
        || !PyUnicode_CheckExact(target) || !PyDict_CheckExact(kwargs) || PyDict_GET_SIZE(kwargs) != 0) {
        return NOT_PLAIN;
    }
    PyObject **items;
    Py_ssize_t count;
    if (PyTuple_CheckExact(args)) {
        items = ((PyTupleObject *)args)->ob_item;
        count = PyTuple_GET_SIZE(args);
    }
    else if (PyList_CheckExact(args)) {
        items = ((PyListObject *)args)->ob_item;
        count = PyList_GET_SIZE(args);
    }
    else {
        return NOT_PLAIN;
    }
    if ((size_t)count > ITEM_LIMIT) {
        return NOT_PLAIN;
    }
    if (reserve(o, 1) < 0) {
        return FAILED;
    }
    put1(o, 0x96);
    int r;
    if ((r = pack_int(o, seq)) != PACKED || (r = pack_int(o, t_ns)) != PACKED || (r = pack_str(o, op)) != PACKED
        || (r = pack_str(o, target)) != PACKED) {
        return r;
    }
    if (reserve(o, 5) < 0) {
        return FAILED;
    }
    put_array_header(o, (size_t)count);
    for (Py_ssize_t k = 0; k < count; k++) {
        if ((r = pack_arg(o, items[k])) != PACKED) {
            return r;
        }
    }
    if (reserve(o, 1) < 0) {
        return FAILED;
    }
    put1(o, 0x80); /* the empty kwargs map */
    return PACKED;
}

/* A row that is not plain: pack_other(row)'s bytes. */
static int
pack_by_callback(Out *o, PyObject *pack_other, PyObject *row)
{
    Py_INCREF(row); /* pack_other may drop the list's reference */
    PyObject *packed = PyObject_CallOneArg(pack_other, row);
    Py_DECREF(row);
    if (packed == NULL) {
        return FAILED;
    }
    if (!PyBytes_Check(packed)) {
        PyErr_Format(PyExc_TypeError, "pack_rows(): pack_other must return bytes, not %.100s",
                     Py_TYPE(packed)->tp_name);
        Py_DECREF(packed);
        return FAILED;
    }
    Py_ssize_t len = PyBytes_GET_SIZE(packed);
    if (reserve(o, len) < 0) {
        Py_DECREF(packed);
        return FAILED;
    }
    memcpy(o->data + o->len, PyBytes_AS_STRING(packed), (size_t)len);
    o->len += len;
    Py_DECREF(packed);
    return PACKED;
}

static PyObject *
pack_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "pack_rows() takes 2 arguments (rows, pack_other), got %zd", nargs);
        return NULL;
    }
    PyObject *rows = args[0], *pack_other = args[1];
    if (!PyList_Check(rows)) {
        PyErr_Format(PyExc_TypeError, "pack_rows(): rows must be a list, not %.100s", Py_TYPE(rows)->tp_name);
        return NULL;
    }
    if (!PyCallable_Check(pack_other)) {
        PyErr_Format(PyExc_TypeError, "pack_rows(): pack_other must be callable, not %.100s",
                     Py_TYPE(pack_other)->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(rows);
    if ((size_t)n > ITEM_LIMIT) {
        PyErr_SetString(PyExc_ValueError, "list is too large"); /* msgpack's words */
        return NULL;
    }
    Out o;
    /* A guess (it grows when short), at most 64 MiB to begin with: no overflow, no huge first allocation. */
    o.cap = 16 + (n < ROW_GUESS_MAX_ROWS ? n : ROW_GUESS_MAX_ROWS) * ROW_GUESS;
    o.bytes = PyBytes_FromStringAndSize(NULL, o.cap);
    if (o.bytes == NULL) {
        return NULL;
    }
    o.data = (unsigned char *)PyBytes_AS_STRING(o.bytes);
    o.len = 0;
    put_array_header(&o, (size_t)n);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyList_GET_SIZE(rows) != n) { /* pack_other changed the list: the header would lie */
            PyErr_SetString(PyExc_RuntimeError, "pack_rows(): rows changed size during packing");
            goto error;
        }
        PyObject *row = PyList_GET_ITEM(rows, i);
        Py_ssize_t start = o.len;
        int r = pack_row(&o, row);
        if (r == NOT_PLAIN) {
            o.len = start;
            r = pack_by_callback(&o, pack_other, row);
        }
        if (r == FAILED) {
            goto error;
        }
    }
    if (_PyBytes_Resize(&o.bytes, o.len) < 0) {
        return NULL;
    }
    return o.bytes;
error:
    Py_XDECREF(o.bytes);
    return NULL;
}

PyDoc_STRVAR(pack_rows_doc,
"pack_rows(rows, pack_other, /)\n--\n\n"
"The msgpack array of `rows` (a list of (seq, t_ns, op, target, args, kwargs) tuples): plain\n"
"rows are packed here, every other row is packed by pack_other(row) -> bytes, called in row\n"
"order. Byte-identical to msgpack.packb(rows, use_bin_type=True) after sessions.codec's row\n"
"conversion. Exceptions from pack_other propagate unchanged.");

/* ---- decoding: rows unpacked by msgpack -> Commands ------------------------------------------ */

static const char *const COMMAND_FIELDS[6] = {"seq", "t_ns", "op", "target", "args", "kwargs"};

/* A row is well formed when it is a list [int, int, str, str, list, dict] (exact ints; msgpack
 * gives exact types): the check sessions.codec's Python loop makes. */
static int
row_is_well_formed(PyObject *row)
{
    if (!PyList_CheckExact(row) || PyList_GET_SIZE(row) != 6) {
        return 0;
    }
    PyObject **f = ((PyListObject *)row)->ob_item;
    return PyLong_CheckExact(f[0]) && PyLong_CheckExact(f[1]) && PyUnicode_Check(f[2]) &&
           PyUnicode_Check(f[3]) && PyList_Check(f[4]) && PyDict_Check(f[5]);
}

/* A tuple of objects the cyclic collector does not handle (numbers, strings, numpy arrays) or of
 * tuples it has untracked cannot be part of a cycle: the collector untracks such a tuple itself
 * (the same rule as CPython's _PyTuple_MaybeUntrack), but only after walking it once in a
 * collection. Untracked from the start, the argument tuples of a chunk cost no collection. Any
 * other container (a dict, a list, even empty) may later take part in a cycle: the tuple stays. */
static void
untrack_if_atomic(PyObject *tuple)
{
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, i);
        if (PyObject_IS_GC(item) && !(PyTuple_CheckExact(item) && !PyObject_GC_IsTracked(item))) {
            return;
        }
    }
    PyObject_GC_UnTrack(tuple);
}

/* What builds commands of one type: the slots' descriptors set the fields directly, as
 * sessions.command.make_command does (a frozen dataclass's __init__ would go through
 * object.__setattr__ per field). One str object per distinct op and target, instead of one per
 * command: a log read whole keeps about 150 bytes less per command, and equal strings compare by
 * identity. */
typedef struct {
    PyTypeObject *type; /* borrowed */
    PyObject *descr[6];
    descrsetfunc set[6];
    PyObject *strings; /* the ops and targets seen so far */
    /* decode_rows: the last op and target read, by their msgpack bytes (in the rows being read)
     * and their str in `strings` (borrowed): a run of rows with the same ones makes no str */
    const unsigned char *name_bytes[2];
    Py_ssize_t name_size[2];
    PyObject *name[2];
} CommandMaker;

static void
maker_clear(CommandMaker *m)
{
    for (int k = 0; k < 6; k++) {
        Py_CLEAR(m->descr[k]);
    }
    Py_CLEAR(m->strings);
}

static int
maker_init(CommandMaker *m, PyObject *type, const char *func)
{
    memset(m, 0, sizeof(*m));
    if (!PyType_Check(type)) {
        PyErr_Format(PyExc_TypeError, "%s(): command_type must be a type", func);
        return -1;
    }
    m->type = (PyTypeObject *)type;
    m->strings = PyDict_New();
    if (m->strings == NULL) {
        return -1;
    }
    for (int k = 0; k < 6; k++) {
        m->descr[k] = PyObject_GetAttrString(type, COMMAND_FIELDS[k]);
        if (m->descr[k] == NULL) {
            maker_clear(m);
            return -1;
        }
        m->set[k] = Py_TYPE(m->descr[k])->tp_descr_set;
        if (m->set[k] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s(): %.100s.%s is not a slot", func, m->type->tp_name, COMMAND_FIELDS[k]);
            maker_clear(m);
            return -1;
        }
    }
    return 0;
}

/* The str equal to `name` that the maker keeps for all its commands (borrowed), or NULL with an
 * error set. */
static PyObject *
maker_share(CommandMaker *m, PyObject *name)
{
    return PyDict_SetDefault(m->strings, name, name);
}

/* Whether a field can hold no reference cycle: not a container, or an untracked tuple or dict. */
static int
is_atomic(PyObject *value)
{
    PyTypeObject *type = Py_TYPE(value);
    if (type == &PyLong_Type || type == &PyUnicode_Type || type == &PyFloat_Type || !PyType_IS_GC(type)) {
        return 1;
    }
    return (type == &PyTuple_Type || type == &PyDict_Type) && !PyObject_GC_IsTracked(value);
}

/* A new command of seq, t_ns, op, target (strs from maker_share), arguments (a tuple, untracked
 * when atomic) and kwargs; NULL with an error set. */
static PyObject *
maker_make(CommandMaker *m, PyObject *seq, PyObject *t_ns, PyObject *op, PyObject *target, PyObject *arguments,
           PyObject *kwargs)
{
    PyObject *cmd = m->type->tp_alloc(m->type, 0);
    if (cmd == NULL) {
        return NULL;
    }
    untrack_if_atomic(arguments);
    PyObject *values[6] = {seq, t_ns, op, target, arguments, kwargs};
    int atomic = 1;
    for (int k = 0; k < 6; k++) {
        if (m->set[k](m->descr[k], cmd, values[k]) < 0) {
            Py_DECREF(cmd);
            return NULL;
        }
        atomic = atomic && is_atomic(values[k]);
    }
    /* A command of atomic fields can be in no reference cycle: the collector need not walk it, as it
     * does not walk such tuples (a read keeps thousands of commands alive across the collections
     * that follow each chunk). Commands are frozen; their kwargs dict is taken as theirs, not to be
     * filled later with objects that refer back to the command. */
    if (atomic) {
        PyObject_GC_UnTrack(cmd);
    }
    return cmd;
}

static PyObject *
build_commands(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "build_commands() takes 2 arguments (rows, command_type), got %zd", nargs);
        return NULL;
    }
    PyObject *rows = args[0];
    if (!PyList_CheckExact(rows)) {
        PyErr_SetString(PyExc_TypeError, "build_commands(): rows must be a list");
        return NULL;
    }
    CommandMaker maker;
    if (maker_init(&maker, args[1], "build_commands") < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = PyList_GET_SIZE(rows);
    PyObject *commands = PyList_New(n);
    if (commands == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!row_is_well_formed(row)) {
            result = Py_BuildValue("(On)", Py_None, i);
            goto done;
        }
        PyObject **f = ((PyListObject *)row)->ob_item;
        PyObject *op = maker_share(&maker, f[2]);
        PyObject *target = op != NULL ? maker_share(&maker, f[3]) : NULL;
        PyObject *arguments = target != NULL ? PyList_AsTuple(f[4]) : NULL;
        if (arguments == NULL) {
            goto done;
        }
        PyObject *cmd = maker_make(&maker, f[0], f[1], op, target, arguments, f[5]);
        Py_DECREF(arguments);
        if (cmd == NULL) {
            goto done;
        }
        PyList_SET_ITEM(commands, i, cmd);
    }
    result = Py_BuildValue("(On)", commands, (Py_ssize_t)-1);
done:
    Py_XDECREF(commands);
    maker_clear(&maker);
    return result;
}

PyDoc_STRVAR(build_commands_doc,
"build_commands(rows, command_type, /)\n--\n\n"
"The commands of `rows` (msgpack's lists [seq, t_ns, op, target, args, kwargs]), built as\n"
"command_type objects (a slots class; args becomes a tuple; equal ops and targets share one\n"
"str): (commands, -1); or (None, i) when row i is not a list [int, int, str, str, list, dict].");

/* ---- decoding: extension values (arrays, references, bytearrays) -----------------------------
 *
 * ExtHook(blobs, shuffled, max_dims, dtypes, frombuffer, ref_type, fallback, *, ready, unfilled, copied) is
 * msgpack's ext_hook for one chunk. It builds the values that fill logs, on their well-formed path
 * only:
 *   - EXT_REF: Ref(uuid) (a slots class, its field set through its descriptor);
 *   - EXT_BYTEARRAY, EXT_BYTES: a bytearray / bytes of its bytes, inline (colours) or in the blob
 *     area. While the chunk still decodes, only the first `ready` bytes of the blob area are in
 *     place: a bytearray past them is made unfilled and listed in `unfilled` as (offset,
 *     bytearray) when that list is given, and such a value is left to the fallback (which raises)
 *     when not. Blob bytes copied are counted in `copied` (shared with the fallback): past the
 *     area's size, ValueError;
 *   - EXT_NDARRAY [dtype, shape, loc] as sessions.codec's encoder writes it: an inline array is
 *     copied out of the payload, an array in the blob area is a view of `blobs`
 *     (frombuffer(blobs, dtype, count, offset)), reshaped unless 1-D.
 * Everything else goes to `fallback(code, data)`, the Python ext_hook: other extension types, any
 * payload it cannot read or that fails a check (so errors are the Python path's, word for word),
 * and float arrays of a shuffled chunk (they are unshuffled into the chunk's arena, in Python).
 * `dtypes` maps each allowed dtype string to (dtype, itemsize, is float or complex of itemsize > 1).
 */
#define EXT_NDARRAY 1
#define EXT_BYTEARRAY 2
#define EXT_BYTES 3
#define EXT_REF 4
#define MAX_DTYPES 32
#define MAX_DTYPE_NAME 8

typedef struct {
    char name[MAX_DTYPE_NAME];
    Py_ssize_t name_len;
    PyObject *dtype;
    Py_ssize_t itemsize;
    int floating; /* float or complex, itemsize > 1: shuffled in a shuffled chunk */
    /* The whole blob area as one array of this dtype, made at its first use: an array at an
     * offset that is a multiple of the itemsize is a slice of it (0.25 us, against 0.55 us for
     * np.frombuffer, most of it parsing the call's arguments). */
    PyObject *typed;
} DtypeEntry;

typedef struct {
    PyObject_HEAD
    PyObject *blobs;
    Py_ssize_t blobs_len;
    int shuffled;
    Py_ssize_t max_dims;
    PyObject *frombuffer;
    PyObject *ref_type;
    PyObject *ref_descr;
    PyObject *fallback;
    Py_ssize_t ready;   /* blob bytes decompressed so far (all of them but while a chunk decodes) */
    PyObject *unfilled; /* list of (offset, bytearray) made before their bytes were ready, or NULL */
    /* Blob bytes copied into values so far, shared with the Python hook (an int64 buffer), or NULL:
     * they may add up to the blob area's size at most, so that a few rows cannot make gigabytes of
     * copies of one blob. */
    Py_buffer copied_view;
    int64_t *copied;
    DtypeEntry dtypes[MAX_DTYPES];
    int dtype_count;
    DtypeEntry *last_dtype; /* the entry of the last array built, or NULL */
} ExtHook;

typedef struct {
    const unsigned char *p, *end;
} Reader;

/* The next `size` bytes (1, 2, 4 or 8) as a big-endian number; 0 when they are not there. */
static int
read_be(Reader *r, int size, uint64_t *out)
{
    if (r->end - r->p < size) {
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < size; i++) {
        v = (v << 8) | r->p[i];
    }
    r->p += size;
    *out = v;
    return 1;
}

/* Each reader returns 1 and advances when the next item has the form asked for, else 0. */
static int
read_uint(Reader *r, uint64_t *out)
{
    if (r->p >= r->end) {
        return 0;
    }
    unsigned char b = *r->p;
    Py_ssize_t size;
    if (b <= 0x7f) {
        *out = b;
        r->p++;
        return 1;
    }
    switch (b) {
    case 0xcc: size = 1; break;
    case 0xcd: size = 2; break;
    case 0xce: size = 4; break;
    case 0xcf: size = 8; break;
    default: return 0;
    }
    Reader after = {r->p + 1, r->end};
    if (!read_be(&after, (int)size, out)) {
        return 0;
    }
    r->p = after.p;
    return 1;
}

static int
read_length(Reader *r, Py_ssize_t size, Py_ssize_t *out)
{
    uint64_t v;
    if (!read_be(r, (int)size, &v)) {
        return 0;
    }
    *out = (Py_ssize_t)v; /* at most 32 bits */
    return 1;
}

/* An array header, in any of its three forms, whose items (a byte each at least) fit in the data. */
static int
read_array_header(Reader *r, Py_ssize_t *n)
{
    if (r->p >= r->end) {
        return 0;
    }
    unsigned char b = *r->p;
    if (b >= 0x90 && b <= 0x9f) {
        r->p++;
        *n = b & 0x0f;
        return *n <= r->end - r->p;
    }
    if (b == 0xdc || b == 0xdd) {
        r->p++;
        uint64_t v;
        if (!read_be(r, b == 0xdc ? 2 : 4, &v) || v > (uint64_t)(r->end - r->p)) {
            return 0;
        }
        *n = (Py_ssize_t)v;
        return 1;
    }
    return 0;
}

static int
read_str(Reader *r, const unsigned char **s, Py_ssize_t *n)
{
    if (r->p >= r->end) {
        return 0;
    }
    unsigned char b = *r->p;
    if (b >= 0xa0 && b <= 0xbf) {
        *n = b & 0x1f;
        r->p++;
    }
    else if (b == 0xd9) {
        r->p++;
        if (!read_length(r, 1, n)) {
            return 0;
        }
    }
    else {
        return 0;
    }
    if (r->end - r->p < *n) {
        return 0;
    }
    *s = r->p;
    r->p += *n;
    return 1;
}

static int
read_bin(Reader *r, const unsigned char **s, Py_ssize_t *n)
{
    if (r->p >= r->end) {
        return 0;
    }
    Py_ssize_t size;
    switch (*r->p) {
    case 0xc4: size = 1; break;
    case 0xc5: size = 2; break;
    case 0xc6: size = 4; break;
    default: return 0;
    }
    r->p++;
    if (!read_length(r, size, n) || r->end - r->p < *n) {
        return 0;
    }
    *s = r->p;
    r->p += *n;
    return 1;
}

/* The array of an EXT_NDARRAY payload: a new reference, NULL with an error set, or Py_None
 * (borrowed, not an error) when the fallback must decide. */
/* `count` items at `offset` of the blob area (checked by the caller), sliced from the entry's view
 * of the whole area (made at its first use). */
static PyObject *
typed_slice(ExtHook *self, DtypeEntry *entry, uint64_t offset, uint64_t count)
{
    if (entry->typed == NULL) {
        PyObject *whole = PyLong_FromSsize_t(self->blobs_len / entry->itemsize);
        if (whole == NULL) {
            return NULL;
        }
        PyObject *args[3] = {self->blobs, entry->dtype, whole};
        entry->typed = PyObject_Vectorcall(self->frombuffer, args, 3, NULL);
        Py_DECREF(whole);
        if (entry->typed == NULL) {
            return NULL;
        }
    }
    Py_ssize_t first = (Py_ssize_t)(offset / (uint64_t)entry->itemsize);
    return PySequence_GetSlice(entry->typed, first, first + (Py_ssize_t)count);
}

/* The same, at an offset that is not a whole number of items: np.frombuffer of its own. */
static PyObject *
blob_view(ExtHook *self, DtypeEntry *entry, uint64_t offset, uint64_t count)
{
    PyObject *count_obj = PyLong_FromUnsignedLongLong(count);
    PyObject *offset_obj = PyLong_FromUnsignedLongLong(offset);
    PyObject *array = NULL;
    if (count_obj != NULL && offset_obj != NULL) {
        PyObject *args[4] = {self->blobs, entry->dtype, count_obj, offset_obj};
        array = PyObject_Vectorcall(self->frombuffer, args, 4, NULL);
    }
    Py_XDECREF(count_obj);
    Py_XDECREF(offset_obj);
    return array;
}

static PyObject *
build_array(ExtHook *self, const unsigned char *data, Py_ssize_t size)
{
    Reader r = {data, data + size};
    Py_ssize_t n;
    const unsigned char *name, *inline_bytes = NULL;
    Py_ssize_t name_len, ndim, inline_len = 0;
    if (!read_array_header(&r, &n) || n != 3 || !read_str(&r, &name, &name_len)) {
        return Py_None;
    }
    DtypeEntry *entry = self->last_dtype; /* a chunk's arrays mostly share one dtype */
    if (entry == NULL || entry->name_len != name_len || memcmp(entry->name, name, (size_t)name_len) != 0) {
        entry = NULL;
        for (int i = 0; i < self->dtype_count; i++) {
            DtypeEntry *e = &self->dtypes[i];
            if (e->name_len == name_len && memcmp(e->name, name, (size_t)name_len) == 0) {
                entry = self->last_dtype = e;
                break;
            }
        }
    }
    if (entry == NULL || !read_array_header(&r, &ndim) || ndim > self->max_dims || ndim > 64) {
        return Py_None;
    }
    Py_ssize_t dims[64];
    uint64_t count = 1;
    for (Py_ssize_t i = 0; i < ndim; i++) {
        uint64_t d;
        if (!read_uint(&r, &d) || d > (uint64_t)PY_SSIZE_T_MAX || (d != 0 && count > UINT64_MAX / d)) {
            return Py_None;
        }
        count *= d;
        dims[i] = (Py_ssize_t)d;
    }
    uint64_t offset = 0, length = 0;
    if (read_bin(&r, &inline_bytes, &inline_len)) {
        length = (uint64_t)inline_len;
    }
    else if (!read_array_header(&r, &n) || n != 2 || !read_uint(&r, &offset) || !read_uint(&r, &length)) {
        return Py_None;
    }
    if (r.p != r.end || count > UINT64_MAX / (uint64_t)entry->itemsize || count * (uint64_t)entry->itemsize != length) {
        return Py_None;
    }
    PyObject *array;
    if (inline_bytes != NULL) { /* small: a copy in a bytearray of its own, so that it is writable */
        PyObject *raw = PyByteArray_FromStringAndSize((const char *)inline_bytes, inline_len);
        if (raw == NULL) {
            return NULL;
        }
        PyObject *args[2] = {raw, entry->dtype};
        array = PyObject_Vectorcall(self->frombuffer, args, 2, NULL);
        Py_DECREF(raw);
    }
    else {
        if (count == 0 || offset > (uint64_t)self->blobs_len || length > (uint64_t)self->blobs_len - offset ||
            (self->shuffled && entry->floating)) {
            return Py_None;
        }
        array = offset % (uint64_t)entry->itemsize == 0 ? typed_slice(self, entry, offset, count)
                                                        : blob_view(self, entry, offset, count);
    }
    if (array == NULL || ndim == 1) {
        return array;
    }
    PyObject *shape = PyTuple_New(ndim);
    if (shape == NULL) {
        Py_DECREF(array);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < ndim; i++) {
        PyObject *d = PyLong_FromSsize_t(dims[i]);
        if (d == NULL) {
            Py_DECREF(shape);
            Py_DECREF(array);
            return NULL;
        }
        PyTuple_SET_ITEM(shape, i, d);
    }
    PyObject *shaped = PyObject_CallMethod(array, "reshape", "(O)", shape);
    Py_DECREF(shape);
    Py_DECREF(array);
    return shaped;
}

/* The bytearray of a blob not decompressed yet: made unfilled and listed in `unfilled` with its
 * offset, for the decoding threads to fill (sessions/blocks.py). */
static PyObject *
unfilled_bytearray(ExtHook *self, uint64_t offset, uint64_t length)
{
    PyObject *bytes = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)length);
    PyObject *entry = bytes != NULL ? Py_BuildValue("(KO)", (unsigned long long)offset, bytes) : NULL;
    int failed = entry == NULL || PyList_Append(self->unfilled, entry) < 0;
    Py_XDECREF(entry);
    if (failed) {
        Py_XDECREF(bytes);
        return NULL;
    }
    return bytes;
}

/* The value (bytes, or bytearray when `as_bytearray`) of an EXT_BYTES / EXT_BYTEARRAY payload: a
 * new reference, NULL with an error set, or Py_None (borrowed) when the fallback must decide. Its
 * payload is one msgpack bin (small values, inline) or [offset, length] in the blob area: a copy
 * of those bytes when they are in place; a bytearray past them is made unfilled when the hook
 * lists such ones; else the fallback's (which raises BlobsNotReady). */
static PyObject *
build_copy(ExtHook *self, const unsigned char *data, Py_ssize_t size, int as_bytearray)
{
    Reader r = {data, data + size};
    const unsigned char *bytes;
    Py_ssize_t length, n;
    if (read_bin(&r, &bytes, &length)) {
        if (r.p != r.end) {
            return Py_None;
        }
        return as_bytearray ? PyByteArray_FromStringAndSize((const char *)bytes, length)
                            : PyBytes_FromStringAndSize((const char *)bytes, length);
    }
    uint64_t offset, blob_length;
    if (!read_array_header(&r, &n) || n != 2 || !read_uint(&r, &offset) || !read_uint(&r, &blob_length) ||
        r.p != r.end || offset > (uint64_t)self->blobs_len || blob_length > (uint64_t)self->blobs_len - offset) {
        return Py_None;
    }
    int ready = offset + blob_length <= (uint64_t)self->ready;
    if (!ready && (!as_bytearray || self->unfilled == NULL)) {
        return Py_None;
    }
    Py_buffer view = {0};
    if (ready) {
        if (PyObject_GetBuffer(self->blobs, &view, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        if (view.len < self->blobs_len) { /* the area shrank (a resized bytearray): the fallback says so */
            PyBuffer_Release(&view);
            return Py_None;
        }
    }
    if (self->copied != NULL) {
        if ((int64_t)blob_length > (int64_t)self->blobs_len - *self->copied) {
            PyErr_Format(PyExc_ValueError, "values copy more than the blob area's %zd bytes out of it (a blob "
                         "referenced more than once)", self->blobs_len);
            if (ready) {
                PyBuffer_Release(&view);
            }
            return NULL;
        }
        *self->copied += (int64_t)blob_length;
    }
    if (!ready) {
        return unfilled_bytearray(self, offset, blob_length);
    }
    const char *start = (const char *)view.buf + offset;
    PyObject *copy = as_bytearray ? PyByteArray_FromStringAndSize(start, (Py_ssize_t)blob_length)
                                  : PyBytes_FromStringAndSize(start, (Py_ssize_t)blob_length);
    PyBuffer_Release(&view);
    return copy;
}

/* Ref(uuid) of an EXT_REF payload, or Py_None (borrowed) when the fallback must decide. */
static PyObject *
build_ref(ExtHook *self, const char *data, Py_ssize_t size)
{
    PyObject *uuid = PyUnicode_DecodeUTF8(data, size, "strict");
    if (uuid == NULL) {
        PyErr_Clear(); /* the fallback raises the Python path's error */
        return Py_None;
    }
    PyTypeObject *type = (PyTypeObject *)self->ref_type;
    PyObject *ref = type->tp_alloc(type, 0);
    if (ref == NULL || Py_TYPE(self->ref_descr)->tp_descr_set(self->ref_descr, ref, uuid) < 0) {
        Py_XDECREF(ref);
        ref = NULL;
    }
    Py_DECREF(uuid);
    return ref;
}

static PyObject *
ExtHook_call(ExtHook *self, PyObject *args, PyObject *kwargs)
{
    if (self->fallback == NULL) { /* made by __new__ alone, or a second __init__ failed */
        PyErr_SetString(PyExc_RuntimeError, "ExtHook is not initialised");
        return NULL;
    }
    if (kwargs == NULL && PyTuple_GET_SIZE(args) == 2 && PyLong_CheckExact(PyTuple_GET_ITEM(args, 0)) &&
        PyBytes_CheckExact(PyTuple_GET_ITEM(args, 1))) {
        long code = PyLong_AsLong(PyTuple_GET_ITEM(args, 0));
        PyObject *data = PyTuple_GET_ITEM(args, 1);
        PyObject *value = Py_None;
        if (code == EXT_NDARRAY) {
            value = build_array(self, (const unsigned char *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data));
        }
        else if (code == EXT_REF) {
            value = build_ref(self, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data));
        }
        else if (code == EXT_BYTEARRAY || code == EXT_BYTES) {
            value = build_copy(self, (const unsigned char *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data),
                               code == EXT_BYTEARRAY);
        }
        else if (code == -1 && PyErr_Occurred()) {
            PyErr_Clear();
        }
        if (value != Py_None) {
            return value; /* the value, or NULL with an error set */
        }
    }
    return PyObject_Call(self->fallback, args, kwargs);
}

static int
ExtHook_traverse(ExtHook *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->blobs);
    Py_VISIT(self->frombuffer);
    Py_VISIT(self->ref_type);
    Py_VISIT(self->ref_descr);
    Py_VISIT(self->fallback); /* a bound method of the decoder that holds this hook: a cycle */
    Py_VISIT(self->unfilled);
    for (int i = 0; i < self->dtype_count; i++) {
        Py_VISIT(self->dtypes[i].dtype);
        Py_VISIT(self->dtypes[i].typed);
    }
    return 0;
}

static int
ExtHook_clear(ExtHook *self)
{
    Py_CLEAR(self->blobs);
    Py_CLEAR(self->frombuffer);
    Py_CLEAR(self->ref_type);
    Py_CLEAR(self->ref_descr);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->unfilled);
    if (self->copied != NULL) {
        PyBuffer_Release(&self->copied_view);
        self->copied = NULL;
    }
    for (int i = 0; i < self->dtype_count; i++) {
        Py_CLEAR(self->dtypes[i].dtype);
        Py_CLEAR(self->dtypes[i].typed);
    }
    self->dtype_count = 0;
    self->last_dtype = NULL;
    return 0;
}

static void
ExtHook_dealloc(ExtHook *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    ExtHook_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static int
ExtHook_init(ExtHook *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"blobs", "shuffled", "max_dims", "dtypes", "frombuffer", "ref_type", "fallback", "ready",
                            "unfilled", "copied", NULL};
    PyObject *blobs, *dtypes, *frombuffer, *ref_type, *fallback, *unfilled = Py_None, *copied = Py_None;
    int shuffled;
    Py_ssize_t max_dims, ready = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OpnO!OO!O|$nOO:ExtHook", names, &blobs, &shuffled, &max_dims,
                                     &PyDict_Type, &dtypes, &frombuffer, &PyType_Type, &ref_type, &fallback, &ready,
                                     &unfilled, &copied)) {
        return -1;
    }
    if (!PyCallable_Check(frombuffer) || !PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "ExtHook(): frombuffer and fallback must be callable");
        return -1;
    }
    if (unfilled != Py_None && !PyList_CheckExact(unfilled)) {
        PyErr_SetString(PyExc_TypeError, "ExtHook(): unfilled must be a list or None");
        return -1;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(blobs, &view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    Py_ssize_t blobs_len = view.len;
    PyBuffer_Release(&view);
    PyObject *ref_descr = PyObject_GetAttrString(ref_type, "uuid");
    if (ref_descr == NULL) {
        return -1;
    }
    if (Py_TYPE(ref_descr)->tp_descr_set == NULL) {
        PyErr_Format(PyExc_TypeError, "ExtHook(): %.100s.uuid is not a slot", ((PyTypeObject *)ref_type)->tp_name);
        Py_DECREF(ref_descr);
        return -1;
    }
    ExtHook_clear(self);
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(dtypes, &pos, &key, &value)) {
        Py_ssize_t name_len;
        const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8AndSize(key, &name_len) : NULL;
        PyObject *dtype;
        Py_ssize_t itemsize;
        int floating;
        if (name == NULL || name_len > MAX_DTYPE_NAME || self->dtype_count == MAX_DTYPES ||
            !PyArg_ParseTuple(value, "Onp", &dtype, &itemsize, &floating) || itemsize <= 0) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "ExtHook(): dtypes must map short names to (dtype, itemsize, floating)");
            }
            Py_DECREF(ref_descr);
            return -1;
        }
        DtypeEntry *e = &self->dtypes[self->dtype_count++];
        memcpy(e->name, name, (size_t)name_len);
        e->name_len = name_len;
        Py_INCREF(dtype);
        e->dtype = dtype;
        e->typed = NULL;
        e->itemsize = itemsize;
        e->floating = floating;
    }
    Py_INCREF(blobs);
    self->blobs = blobs;
    self->blobs_len = blobs_len;
    self->shuffled = shuffled;
    self->max_dims = max_dims;
    Py_INCREF(frombuffer);
    self->frombuffer = frombuffer;
    Py_INCREF(ref_type);
    self->ref_type = ref_type;
    self->ref_descr = ref_descr;
    Py_INCREF(fallback);
    self->fallback = fallback;
    self->ready = ready < 0 || ready > blobs_len ? blobs_len : ready;
    if (unfilled != Py_None) {
        Py_INCREF(unfilled);
        self->unfilled = unfilled;
    }
    if (copied != Py_None) {
        if (PyObject_GetBuffer(copied, &self->copied_view, PyBUF_WRITABLE) < 0) {
            return -1;
        }
        if (self->copied_view.len != (Py_ssize_t)sizeof(int64_t)) {
            PyBuffer_Release(&self->copied_view);
            PyErr_SetString(PyExc_ValueError, "ExtHook(): copied must be a writable buffer of one int64");
            return -1;
        }
        self->copied = (int64_t *)self->copied_view.buf;
    }
    return 0;
}

/* ---- decoding: the memory rows take, estimated from their bytes -------------------------------
 *
 * A few bytes of msgpack can decode to many times their size in Python objects (an empty list is
 * one byte and 64 bytes of memory; an array header may declare as many slots as the data has
 * bytes, and both readers allocate them at once). Each value is charged what either reader (this
 * module's or msgpack's) may allocate for it: a container by its declared length, each item with
 * an allowance that covers an int or a float (so those are not charged one by one), and headers
 * nested in headers add up before anything is built; a str or a bin by its length; an extension
 * value a flat cost, its bytes and its payload's own charge when that is msgpack.
 *
 * decoded_size(data, limit) -> the charges of the value in `data`, summed in one pass over the
 * bytes with no allocation: more than `limit` once past it, or -1 when extension values nest
 * deeper than MAX_EXT_NESTING. It runs before msgpack decodes anything. The row reader below
 * charges the same costs as it reads, and declines once past its limit; only the payloads of
 * extension values it builds itself (arrays, references, bytes) are not charged, as it makes no
 * objects of them. sessions/decoded_size.py holds the same rules in Python; the tests check that
 * the three agree and that the charges bound what decoding allocates.
 */
/* Every value has an allowance, paid by its container with its slot: enough for an int or a
 * float object, so that those cost nothing more (and are not charged one by one). */
#define COST_SCALAR 48
#define COST_LIST 64       /* a list, tuple or Command object, plus per declared item: */
#define COST_ITEM (16 + COST_SCALAR) /* a list slot and a tuple slot (when the list is made a tuple) */
#define COST_MAP 192       /* an empty dict and its first keys table, plus per declared entry: */
#define COST_MAP_ITEM (48 + 2 * COST_SCALAR) /* its share of the keys table, the key's and value's allowances */
#define COST_STR 96        /* plus 4 per byte: one 4-byte character makes every character 4 bytes */
#define COST_STR_BYTE 4
#define COST_BIN 48
#define COST_EXT 512       /* an array view and its base, a Ref, an enum...; plus 4 per byte (a copy
                              * of them, a reference's str), and its payload's own charges when that
                              * is msgpack and the Python hook unpacks it */
#define COST_EXT_BYTE 4
#define MAX_EXT_NESTING 8

static const char EXT_IS_MSGPACK[8] = {0, 1, 1, 1, 0, 1, 1, 1}; /* codes 1-3 and 5-7 */

/* What the estimate may reach: far above any limit, far below overflow. */
#define COST_CAP ((uint64_t)1 << 62)

static uint64_t
capped_add(uint64_t a, uint64_t b)
{
    return a + b > COST_CAP || b > COST_CAP ? COST_CAP : a + b;
}

/* The bytes left in r, up to n. */
static uint64_t
clamp_left(Reader *r, uint64_t n)
{
    uint64_t left = (uint64_t)(r->end - r->p);
    return n < left ? n : left;
}

/* Adds to *cost the estimate for the next value in r and the items of the containers it opens.
 * Stops early once past `limit`, and at the end of the data (a truncated value costs what its
 * readers allocate before they notice). Returns 0 when extension values nest deeper than
 * MAX_EXT_NESTING, else 1. */
static int
estimate_value(Reader *r, uint64_t limit, int ext_depth, uint64_t *cost)
{
    /* Sizes of the length fields of str 8/16/32, bin 8/16/32, array 16/32, map 16/32, ext 8/16/32. */
    static const unsigned char length_field[0x100] = {
        [0xd9] = 1, [0xda] = 2, [0xdb] = 4, [0xc4] = 1, [0xc5] = 2, [0xc6] = 4, [0xdc] = 2,
        [0xdd] = 4, [0xde] = 2, [0xdf] = 4, [0xc7] = 1, [0xc8] = 2, [0xc9] = 4,
    };
    uint64_t c = *cost + COST_SCALAR, pending = 1, n; /* the allowance of the value itself */
    while (pending > 0 && r->p < r->end && c <= limit) {
        pending--;
        unsigned char b = *r->p++;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            continue; /* within its allowance */
        }
        int is_map = 0, is_list = 0, is_text = 0, is_bin = 0;
        if (b >= 0x80 && b <= 0xbf) { /* fixmap, fixarray, fixstr */
            n = b >= 0xa0 ? b & 0x1f : b & 0x0f;
            is_map = b < 0x90;
            is_list = b >= 0x90 && b < 0xa0;
            is_text = b >= 0xa0;
        }
        else if (length_field[b] != 0) {
            if (!read_be(r, length_field[b], &n)) {
                break;
            }
            is_map = b >= 0xde;
            is_list = b == 0xdc || b == 0xdd;
            is_text = b >= 0xd9 && b <= 0xdb;
            is_bin = b >= 0xc4 && b <= 0xc6;
        }
        else if (b >= 0xd4 && b <= 0xd8) { /* fixext */
            n = (uint64_t)1 << (b - 0xd4);
        }
        else { /* ints and floats: within their allowance */
            int size;
            switch (b) {
            case 0xcc: case 0xd0: size = 1; break;
            case 0xcd: case 0xd1: size = 2; break;
            case 0xce: case 0xd2: case 0xca: size = 4; break;
            case 0xcf: case 0xd3: case 0xcb: size = 8; break;
            default: size = -1; /* 0xc1: never used, both readers stop */
            }
            if (size < 0) {
                break;
            }
            r->p += clamp_left(r, (uint64_t)size);
            continue;
        }
        if (is_map || is_list) {
            c = capped_add(c, is_map ? COST_MAP + COST_MAP_ITEM * n : COST_LIST + COST_ITEM * n);
            pending = capped_add(pending, is_map ? 2 * n : n);
            continue;
        }
        if (is_text || is_bin) {
            n = clamp_left(r, n); /* a truncated one is not made */
            c = capped_add(c, is_text ? COST_STR + COST_STR_BYTE * n : COST_BIN + n);
            r->p += n;
            continue;
        }
        /* an extension value: its code, then n bytes, themselves msgpack for most codes */
        if (r->p >= r->end || n > (uint64_t)(r->end - r->p) - 1) {
            break; /* truncated: read by neither reader */
        }
        c = capped_add(c, COST_EXT + COST_EXT_BYTE * n);
        int code = (int)(int8_t)*r->p++;
        if (code >= 0 && code < 8 && EXT_IS_MSGPACK[code]) {
            if (ext_depth >= MAX_EXT_NESTING) {
                return 0;
            }
            Reader inner = {r->p, r->p + n};
            if (!estimate_value(&inner, limit, ext_depth + 1, &c)) {
                return 0;
            }
        }
        r->p += n;
    }
    *cost = c;
    return 1;
}

/* ---- decoding: whole rows straight from their msgpack bytes -----------------------------------
 *
 * decode_rows(meta, ext_hook, command_type, limit) -> list of commands, or None
 *
 * The commands of a chunk's rows, read from the bytes: the objects msgpack.unpackb(meta,
 * raw=False, strict_map_key=True, use_list=True, ext_hook=ext_hook) then build_commands would
 * give, without a list per row and per args, nor a bytes object and a tuple per extension value
 * (arrays, references and bytearrays are built from the bytes in place). It declines
 * (returns None, nothing raised) whatever it does not read exactly as msgpack would: malformed or
 * truncated data, bytes after the rows, a row that is not [int, int, str, str, array, map], map
 * keys that are not str, timestamps (ext -1), invalid UTF-8, nesting deeper than MAX_DEPTH. The
 * caller then decodes with msgpack, whose errors are the documented ones. An error raised by the
 * hook's fallback (Python) propagates.
 *
 * Internally a reader returns a new reference, or NULL: with an error set to raise it, without
 * one to decline.
 */
#define MAX_DEPTH 32

typedef struct {
    Reader r;
    ExtHook *hook;
    uint64_t cost, limit; /* charged so far (see decoded_size), and where the reader declines */
} RowReader;

/* Adds `amount` to the reader's charges: 0 (decline) once they pass its limit. No overflow: the
 * charges stay under the limit (at most COST_CAP) but for the last one, and an amount is at most
 * COST_EXT + 4 * 2^32, or the ext payload charges summed by estimate_value (at most COST_CAP). */
static inline int
charge(RowReader *s, uint64_t amount)
{
    s->cost += amount;
    return s->cost <= s->limit;
}

static PyObject *read_value(RowReader *s, int depth);

/* A length of `size` bytes that leaves at least `per_item` * length bytes to read. */
static int
read_count(Reader *r, int size, Py_ssize_t per_item, Py_ssize_t *n)
{
    uint64_t v;
    if (!read_be(r, size, &v) || v > (uint64_t)((r->end - r->p) / per_item)) {
        return 0;
    }
    *n = (Py_ssize_t)v;
    return 1;
}

static PyObject *
read_text(RowReader *s, Py_ssize_t n)
{
    if (s->r.end - s->r.p < n || !charge(s, COST_STR + COST_STR_BYTE * (uint64_t)n)) {
        return NULL;
    }
    PyObject *text = PyUnicode_DecodeUTF8((const char *)s->r.p, n, "strict");
    if (text == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear(); /* msgpack raises its own error: decline */
    }
    s->r.p += n;
    return text;
}

static PyObject *
read_bytes(RowReader *s, Py_ssize_t n)
{
    if (s->r.end - s->r.p < n || !charge(s, COST_BIN + (uint64_t)n)) {
        return NULL;
    }
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)s->r.p, n);
    s->r.p += n;
    return bytes;
}

static PyObject *
read_list(RowReader *s, Py_ssize_t n, int depth)
{
    if (!charge(s, COST_LIST + COST_ITEM * (uint64_t)n)) {
        return NULL;
    }
    PyObject *list = PyList_New(n);
    for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
        PyObject *item = read_value(s, depth + 1);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyObject *
read_map(RowReader *s, Py_ssize_t n, int depth)
{
    if (!charge(s, COST_MAP + COST_MAP_ITEM * (uint64_t)n)) {
        return NULL;
    }
    PyObject *dict = PyDict_New();
    for (Py_ssize_t i = 0; dict != NULL && i < n; i++) {
        PyObject *key = read_value(s, depth + 1);
        if (key != NULL && !PyUnicode_CheckExact(key)) {
            Py_CLEAR(key); /* bytes keys and the keys msgpack refuses: decline */
        }
        PyObject *value = key == NULL ? NULL : read_value(s, depth + 1);
        if (value == NULL) {
            Py_XDECREF(key);
            Py_CLEAR(dict);
            break;
        }
        PyUnicode_InternInPlace(&key); /* as msgpack does with str keys */
        int failed = PyDict_SetItem(dict, key, value) < 0;
        Py_DECREF(key);
        Py_DECREF(value);
        if (failed) {
            Py_CLEAR(dict);
        }
    }
    return dict;
}

static PyObject *
read_ext(RowReader *s, Py_ssize_t n)
{
    if (s->r.end - s->r.p < 1 + n) {
        return NULL;
    }
    int code = (int)(int8_t)s->r.p[0];
    const unsigned char *data = s->r.p + 1;
    s->r.p += 1 + n;
    if (code == -1) {
        return NULL; /* a timestamp: msgpack makes it itself */
    }
    if (!charge(s, COST_EXT + COST_EXT_BYTE * (uint64_t)n)) {
        return NULL;
    }
    PyObject *value = Py_None;
    if (code == EXT_NDARRAY) {
        value = build_array(s->hook, data, n);
    }
    else if (code == EXT_REF) {
        value = build_ref(s->hook, (const char *)data, n);
    }
    else if (code == EXT_BYTEARRAY || code == EXT_BYTES) {
        value = build_copy(s->hook, data, n, code == EXT_BYTEARRAY);
    }
    if (value != Py_None) {
        return value;
    }
    /* The Python hook unpacks a msgpack payload into objects of its own: charged as decoded_size
     * charges them (values built here are charged less than it does, never more). */
    if (code >= 0 && code < 8 && EXT_IS_MSGPACK[code]) {
        Reader payload = {data, data + n};
        uint64_t inside = 0;
        if (!estimate_value(&payload, s->limit, 1, &inside) || !charge(s, inside)) {
            return NULL;
        }
    }
    PyObject *call[2] = {PyLong_FromLong(code), PyBytes_FromStringAndSize((const char *)data, n)};
    value = call[0] != NULL && call[1] != NULL ? PyObject_Vectorcall(s->hook->fallback, call, 2, NULL) : NULL;
    Py_XDECREF(call[0]);
    Py_XDECREF(call[1]);
    return value;
}

static PyObject *
read_value(RowReader *s, int depth)
{
    Reader *r = &s->r;
    if (r->p >= r->end || depth > MAX_DEPTH) {
        return NULL;
    }
    unsigned char b = *r->p++;
    uint64_t v;
    Py_ssize_t n;
    if (b <= 0x7f) {
        return PyLong_FromLong(b);
    }
    if (b >= 0xe0) {
        return PyLong_FromLong((int8_t)b);
    }
    if (b >= 0xa0 && b <= 0xbf) {
        return read_text(s, b & 0x1f);
    }
    if (b >= 0x90 && b <= 0x9f) {
        return (b & 0x0f) <= r->end - r->p ? read_list(s, b & 0x0f, depth) : NULL;
    }
    if (b >= 0x80 && b <= 0x8f) {
        return 2 * (b & 0x0f) <= r->end - r->p ? read_map(s, b & 0x0f, depth) : NULL;
    }
    switch (b) { /* the allowance paid by the container covers ints and floats */
    case 0xc0:
        Py_RETURN_NONE;
    case 0xc2:
        Py_RETURN_FALSE;
    case 0xc3:
        Py_RETURN_TRUE;
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        return read_be(r, 1 << (b - 0xcc), &v) ? PyLong_FromUnsignedLongLong(v) : NULL;
    case 0xd0: return read_be(r, 1, &v) ? PyLong_FromLong((int8_t)v) : NULL;
    case 0xd1: return read_be(r, 2, &v) ? PyLong_FromLong((int16_t)v) : NULL;
    case 0xd2: return read_be(r, 4, &v) ? PyLong_FromLong((long)(int32_t)v) : NULL;
    case 0xd3: return read_be(r, 8, &v) ? PyLong_FromLongLong((long long)(int64_t)v) : NULL;
    case 0xca: {
        if (!read_be(r, 4, &v)) {
            return NULL;
        }
        uint32_t bits = (uint32_t)v;
        float f;
        memcpy(&f, &bits, 4);
        return PyFloat_FromDouble((double)f);
    }
    case 0xcb: {
        if (!read_be(r, 8, &v)) {
            return NULL;
        }
        double d;
        memcpy(&d, &v, 8);
        return PyFloat_FromDouble(d);
    }
    case 0xd9: case 0xda: case 0xdb:
        return read_count(r, 1 << (b - 0xd9), 1, &n) ? read_text(s, n) : NULL;
    case 0xc4: case 0xc5: case 0xc6:
        return read_count(r, 1 << (b - 0xc4), 1, &n) ? read_bytes(s, n) : NULL;
    case 0xdc: case 0xdd:
        return read_count(r, b == 0xdc ? 2 : 4, 1, &n) ? read_list(s, n, depth) : NULL;
    case 0xde: case 0xdf:
        return read_count(r, b == 0xde ? 2 : 4, 2, &n) ? read_map(s, n, depth) : NULL;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        return read_ext(s, (Py_ssize_t)1 << (b - 0xd4));
    case 0xc7: case 0xc8: case 0xc9:
        return read_count(r, 1 << (b - 0xc7), 1, &n) ? read_ext(s, n) : NULL;
    default:
        return NULL; /* 0xc1: never used */
    }
}

/* The op (which 0) or target (1) of a row: the str of the row before when its bytes are the same,
 * else the value read, shared through the maker's strings when it is a str. */
static PyObject *
read_name(RowReader *s, CommandMaker *maker, int which)
{
    Reader peek = s->r;
    const unsigned char *text;
    Py_ssize_t n;
    int is_str = read_str(&peek, &text, &n);
    if (is_str && maker->name[which] != NULL && n == maker->name_size[which] &&
        memcmp(text, maker->name_bytes[which], (size_t)n) == 0) {
        s->r = peek;
        /* charged as if read again, as decoded_size does */
        return charge(s, COST_STR + COST_STR_BYTE * (uint64_t)n) ? Py_NewRef(maker->name[which]) : NULL;
    }
    PyObject *value = read_value(s, 1);
    if (value == NULL || !PyUnicode_CheckExact(value)) {
        return value;
    }
    PyObject *shared = maker_share(maker, value); /* borrowed */
    Py_XINCREF(shared);
    Py_DECREF(value);
    if (shared != NULL && is_str) {
        maker->name_bytes[which] = text;
        maker->name_size[which] = n;
        maker->name[which] = shared;
    }
    return shared;
}

/* The command of the next row, or NULL (an error set, or none to decline). */
static PyObject *
read_row(RowReader *s, CommandMaker *maker)
{
    Py_ssize_t n;
    if (!read_array_header(&s->r, &n) || n != 6 || !charge(s, COST_LIST + 6 * COST_ITEM)) {
        return NULL;
    }
    PyObject *f[4] = {NULL, NULL, NULL, NULL}, *arguments = NULL, *kwargs = NULL, *cmd = NULL;
    for (int k = 0; k < 4; k++) {
        f[k] = k < 2 ? read_value(s, 1) : read_name(s, maker, k - 2);
        if (f[k] == NULL || !(k < 2 ? PyLong_CheckExact(f[k]) : PyUnicode_CheckExact(f[k]))) {
            goto done;
        }
    }
    if (!read_array_header(&s->r, &n) || !charge(s, COST_LIST + COST_ITEM * (uint64_t)n) ||
        (arguments = PyTuple_New(n)) == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = read_value(s, 2);
        if (item == NULL) {
            goto done;
        }
        PyTuple_SET_ITEM(arguments, i, item);
    }
    kwargs = read_value(s, 1);
    if (kwargs != NULL && PyDict_CheckExact(kwargs)) {
        cmd = maker_make(maker, f[0], f[1], f[2], f[3], arguments, kwargs);
    }
done:
    for (int k = 0; k < 4; k++) {
        Py_XDECREF(f[k]);
    }
    Py_XDECREF(arguments);
    Py_XDECREF(kwargs);
    return cmd;
}

static PyObject *
decode_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "decode_rows() takes 4 arguments (meta, ext_hook, command_type, limit), got %zd",
                     nargs);
        return NULL;
    }
    unsigned long long limit = PyLong_AsUnsignedLongLong(args[3]);
    if (limit == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    PyTypeObject *hook_type = (PyTypeObject *)PyObject_GetAttrString(module, "ExtHook");
    if (hook_type == NULL) {
        return NULL;
    }
    int is_hook = PyObject_TypeCheck(args[1], hook_type);
    Py_DECREF(hook_type);
    if (!is_hook || ((ExtHook *)args[1])->fallback == NULL) {
        PyErr_SetString(PyExc_TypeError, "decode_rows(): ext_hook must be an initialised ExtHook");
        return NULL;
    }
    Py_buffer meta;
    if (PyObject_GetBuffer(args[0], &meta, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    CommandMaker maker;
    if (maker_init(&maker, args[2], "decode_rows") < 0) {
        PyBuffer_Release(&meta);
        return NULL;
    }
    RowReader s = {{(const unsigned char *)meta.buf, (const unsigned char *)meta.buf + meta.len}, (ExtHook *)args[1],
                   COST_SCALAR /* the allowance of the rows' array */, limit < COST_CAP ? (uint64_t)limit : COST_CAP};
    PyObject *commands = NULL;
    Py_ssize_t n;
    if (read_array_header(&s.r, &n) && charge(&s, COST_LIST + COST_ITEM * (uint64_t)n) &&
        (commands = PyList_New(n)) != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *cmd = read_row(&s, &maker);
            if (cmd == NULL) {
                Py_CLEAR(commands);
                break;
            }
            PyList_SET_ITEM(commands, i, cmd);
        }
        if (commands != NULL && s.r.p != s.r.end) {
            Py_CLEAR(commands); /* bytes after the rows: msgpack's ExtraData */
        }
    }
    maker_clear(&maker);
    PyBuffer_Release(&meta);
    if (commands == NULL && !PyErr_Occurred()) {
        Py_RETURN_NONE;
    }
    return commands;
}

PyDoc_STRVAR(decode_rows_doc,
"decode_rows(meta, ext_hook, command_type, limit, /)\n--\n\n"
"The commands of a chunk's msgpack rows, read straight from `meta` (what msgpack.unpackb with\n"
"ext_hook, then build_commands, give), or None when anything is not read exactly as msgpack\n"
"would, or once the values read are charged more than `limit` bytes (decoded_size's charges):\n"
"the caller then decodes with msgpack. Errors raised by the hook's fallback propagate.");

static PyObject *
decoded_size(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "decoded_size() takes 2 arguments (data, limit), got %zd", nargs);
        return NULL;
    }
    unsigned long long limit = PyLong_AsUnsignedLongLong(args[1]);
    if (limit == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_buffer data;
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Reader r = {(const unsigned char *)data.buf, (const unsigned char *)data.buf + data.len};
    uint64_t cost = 0;
    int nested_ok = estimate_value(&r, limit < COST_CAP ? (uint64_t)limit : COST_CAP, 0, &cost);
    PyBuffer_Release(&data);
    return nested_ok ? PyLong_FromUnsignedLongLong(cost) : PyLong_FromLong(-1);
}

PyDoc_STRVAR(decoded_size_doc,
"decoded_size(data, limit, /)\n--\n\n"
"The bytes of memory the msgpack value in `data` may take once decoded, estimated without\n"
"decoding it (sessions.decoded_size has the rules); a value over `limit` as soon as the estimate\n"
"passes it, or -1 when extension values nest too deep.");

static PyType_Slot ext_hook_slots[] = {
    {Py_tp_doc, "ExtHook(blobs, shuffled, max_dims, dtypes, frombuffer, ref_type, fallback, *, ready, unfilled,\n"
                "copied): msgpack's ext_hook for one chunk: arrays, references, bytes and bytearrays built in C, every\n"
                "other value by fallback. Bytearrays past the first `ready` blob bytes are made unfilled and listed in\n"
                "`unfilled`; blob bytes copied are counted in `copied` (one int64), up to the blob area's size."},
    {Py_tp_init, ExtHook_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_call, ExtHook_call},
    {Py_tp_traverse, ExtHook_traverse},
    {Py_tp_clear, ExtHook_clear},
    {Py_tp_dealloc, ExtHook_dealloc},
    {0, NULL},
};

static PyType_Spec ext_hook_spec = {
    .name = "sessions._rows.ExtHook",
    .basicsize = sizeof(ExtHook),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = ext_hook_slots,
};

static PyMethodDef methods[] = {
    {"pack_rows", (PyCFunction)(void (*)(void))pack_rows, METH_FASTCALL, pack_rows_doc},
    {"build_commands", (PyCFunction)(void (*)(void))build_commands, METH_FASTCALL, build_commands_doc},
    {"decode_rows", (PyCFunction)(void (*)(void))decode_rows, METH_FASTCALL, decode_rows_doc},
    {"decoded_size", (PyCFunction)(void (*)(void))decoded_size, METH_FASTCALL, decoded_size_doc},
    {NULL, NULL, 0, NULL},
};

static int
exec_module(PyObject *module)
{
    PyObject *ext_hook = PyType_FromModuleAndSpec(module, &ext_hook_spec, NULL);
    if (ext_hook == NULL || PyModule_AddObject(module, "ExtHook", ext_hook) < 0) {
        Py_XDECREF(ext_hook);
        return -1;
    }
    return PyModule_AddIntConstant(module, "INLINE_MAX", INLINE_MAX);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sessions._rows",
    .m_doc = "Command rows in C: msgpack packing and building Commands (fast paths of sessions.codec).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__rows(void)
{
    return PyModuleDef_Init(&moduledef);
}
