/* sessions._shuffle: the byte-shuffle filter of .gsplog chunks, in C.
 *
 * shuffle_into(dst, src, itemsize):   n items of `itemsize` bytes -> `itemsize` byte planes of n bytes
 * unshuffle_into(dst, src, itemsize): the inverse
 * unshuffle_block(body, block, block_start, arrays): one block of a BLOCKS chunk into its place
 *
 * Both take buffer-protocol objects (bytes, bytearray, memoryview, numpy arrays), check them, and
 * release the GIL while copying. The layout is the one documented in docs/format.md: plane j holds
 * byte j of every item, in item order. sessions/shuffle.py holds the numpy fallback (same bytes).
 *
 * Speed: the loops for itemsizes 2, 4 and 8 assemble or split one machine word per item with shifts,
 * which compilers turn into SIMD byte unpack/pack instructions; they assume a little-endian host
 * (byte j of the item is bits 8j..8j+7 of the word) and other hosts use the generic loop.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define GSP_LITTLE_ENDIAN 1
#elif defined(_MSC_VER) || defined(_WIN32)
#define GSP_LITTLE_ENDIAN 1 /* every Windows target is little-endian */
#else
#define GSP_LITTLE_ENDIAN 0
#endif

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define GSP_SSE2 1 /* every x86-64 CPU has SSE2 */
#else
#define GSP_SSE2 0
#endif

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#define GSP_MINCORE 1
#define GSP_MINCORE_VEC unsigned char
#elif defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define GSP_MINCORE 1
#define GSP_MINCORE_VEC char
#else
#define GSP_MINCORE 0 /* no mincore(): outputs are never streamed */
#endif

#if defined(_MSC_VER) && !defined(restrict)
#define restrict __restrict
#endif

#define MAX_ITEMSIZE 16
/* Items per block of the generic loops: itemsize * BLOCK bytes (at most 64 KiB) stay in cache while
 * the planes are read or written one after the other. */
#define BLOCK 4096

/* ------------------------------------------------------------------------------------------ */
/* Kernels: `n` items; planes are `n` bytes apart. Word loads/stores go through memcpy or       */
/* loadu/storeu because the buffers need not be aligned (blobs are 16-aligned only relative to  */
/* their chunk's blob area).                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Items [start, stop), one plane after the other within cache-sized blocks. */
static void
shuffle_range(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n, Py_ssize_t size,
              Py_ssize_t start, Py_ssize_t stop)
{
    for (Py_ssize_t first = start; first < stop; first += BLOCK) {
        Py_ssize_t last = first + BLOCK < stop ? first + BLOCK : stop;
        for (Py_ssize_t j = 0; j < size; j++) {
            uint8_t *plane = dst + j * n;
            for (Py_ssize_t i = first; i < last; i++) {
                plane[i] = src[i * size + j];
            }
        }
    }
}

static void
unshuffle_range(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n, Py_ssize_t size,
                Py_ssize_t start, Py_ssize_t stop)
{
    for (Py_ssize_t first = start; first < stop; first += BLOCK) {
        Py_ssize_t last = first + BLOCK < stop ? first + BLOCK : stop;
        for (Py_ssize_t j = 0; j < size; j++) {
            const uint8_t *plane = src + j * n;
            for (Py_ssize_t i = first; i < last; i++) {
                dst[i * size + j] = plane[i];
            }
        }
    }
}

/* Portable word loops for the common sizes: one machine word per item assembled or split with
 * shifts, which compilers vectorise (byte j of the item is bits 8j..8j+7: little-endian only). */
#if GSP_LITTLE_ENDIAN
static void
shuffle2(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n)
{
    uint8_t *restrict p0 = dst, *restrict p1 = dst + n;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint16_t v;
        memcpy(&v, src + 2 * i, 2);
        p0[i] = (uint8_t)v;
        p1[i] = (uint8_t)(v >> 8);
    }
}

static void
unshuffle2(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n)
{
    const uint8_t *restrict p0 = src, *restrict p1 = src + n;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint16_t v = (uint16_t)(p0[i] | (uint16_t)p1[i] << 8);
        memcpy(dst + 2 * i, &v, 2);
    }
}

static void
shuffle4(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n)
{
    uint8_t *restrict p0 = dst, *restrict p1 = dst + n, *restrict p2 = dst + 2 * n, *restrict p3 = dst + 3 * n;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, src + 4 * i, 4);
        p0[i] = (uint8_t)v;
        p1[i] = (uint8_t)(v >> 8);
        p2[i] = (uint8_t)(v >> 16);
        p3[i] = (uint8_t)(v >> 24);
    }
}

static void
unshuffle4(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n)
{
    const uint8_t *restrict p0 = src, *restrict p1 = src + n, *restrict p2 = src + 2 * n, *restrict p3 = src + 3 * n;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)p0[i] | (uint32_t)p1[i] << 8 | (uint32_t)p2[i] << 16 | (uint32_t)p3[i] << 24;
        memcpy(dst + 4 * i, &v, 4);
    }
}

static void
shuffle8(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n)
{
    uint8_t *restrict p0 = dst, *restrict p1 = dst + n, *restrict p2 = dst + 2 * n, *restrict p3 = dst + 3 * n;
    uint8_t *restrict p4 = dst + 4 * n, *restrict p5 = dst + 5 * n, *restrict p6 = dst + 6 * n;
    uint8_t *restrict p7 = dst + 7 * n;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, src + 8 * i, 8);
        p0[i] = (uint8_t)v;
        p1[i] = (uint8_t)(v >> 8);
        p2[i] = (uint8_t)(v >> 16);
        p3[i] = (uint8_t)(v >> 24);
        p4[i] = (uint8_t)(v >> 32);
        p5[i] = (uint8_t)(v >> 40);
        p6[i] = (uint8_t)(v >> 48);
        p7[i] = (uint8_t)(v >> 56);
    }
}

static void
unshuffle8(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n)
{
    const uint8_t *restrict p0 = src, *restrict p1 = src + n, *restrict p2 = src + 2 * n, *restrict p3 = src + 3 * n;
    const uint8_t *restrict p4 = src + 4 * n, *restrict p5 = src + 5 * n, *restrict p6 = src + 6 * n;
    const uint8_t *restrict p7 = src + 7 * n;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t v = (uint64_t)p0[i] | (uint64_t)p1[i] << 8 | (uint64_t)p2[i] << 16 | (uint64_t)p3[i] << 24
                     | (uint64_t)p4[i] << 32 | (uint64_t)p5[i] << 40 | (uint64_t)p6[i] << 48
                     | (uint64_t)p7[i] << 56;
        memcpy(dst + 8 * i, &v, 8);
    }
}
#endif /* GSP_LITTLE_ENDIAN */

/* Portable path: word loops where they apply, else the generic loop. */
static void
shuffle_portable(uint8_t *dst, const uint8_t *src, Py_ssize_t n, Py_ssize_t size)
{
#if GSP_LITTLE_ENDIAN
    switch (size) {
    case 2: shuffle2(dst, src, n); return;
    case 4: shuffle4(dst, src, n); return;
    case 8: shuffle8(dst, src, n); return;
    default: break;
    }
#endif
    shuffle_range(dst, src, n, size, 0, n);
}

static void
unshuffle_portable(uint8_t *dst, const uint8_t *src, Py_ssize_t n, Py_ssize_t size)
{
#if GSP_LITTLE_ENDIAN
    switch (size) {
    case 2: unshuffle2(dst, src, n); return;
    case 4: unshuffle4(dst, src, n); return;
    case 8: unshuffle8(dst, src, n); return;
    default: break;
    }
#endif
    unshuffle_range(dst, src, n, size, 0, n);
}

/* Outputs at least this big (half the L2 cache of the development VM) may be written with
 * non-temporal stores: they would not stay in cache anyway, and bypassing it saves reading every
 * destination line before writing it (memory-bound: 12 MB in 1.3 instead of 3.3 ms there), and
 * leaves the cache to the input and to lz4 (a 12 MB chunk decoded on one thread: 0.55x -> 0.63x
 * lz4's speed on the VM). Only into memory already in use, though: a page the kernel has just
 * given out is zeroed on its first write and its lines sit in cache, where plain stores are
 * cheaper (the same 12 MB into fresh pages: 3.5 ms plain, 5.5 ms streamed). Smaller outputs stay
 * in cache for whoever reads them next. */
#define STREAM_MIN_BYTES (1 << 20)
/* unshuffle_block streams array pieces of at least this size: 4 kB pieces measured the same
 * either way once only whole lines were streamed (see unshuffle_tiles), and each streamed piece
 * ends with a fence. */
#define STREAM_MIN_PIECE (8 << 10)

#if GSP_SSE2
/* SSE2 tiles of 16 items (itemsize 2, 4, 8 or 16): the tile is `size` vectors of 16 bytes, a
 * (size x 16) or (16 x size) byte matrix, transposed by rounds of byte interleaving. An
 * interleave stage pairs the vectors whose index differs in one bit: seen as the bits of a byte's
 * address in the tile (vector index, then lane), it moves that index bit into the lane's lowest
 * bit, shifts the lane bits up, and puts the lane's top bit where the index bit was. Unshuffling
 * (planes -> items) takes the index bits from the top down, which rotates the address by 4 bits:
 * exactly the transpose. Shuffling needs 4 stages whose pairing bits (and where each plane ends)
 * were worked out by following the address bits through the stages; tests check every size
 * against numpy. */
/* The tile loops run over arrays of vectors whose length is a constant after inlining; they must
 * be unrolled completely for the vectors to live in registers. -O3 does that by itself, -O2 (the
 * CFLAGS of distribution Pythons) does not: the kernels then ran 5x slower, 4 GB/s instead of 20
 * in cache. The pragma asks for it at any level. */
#if defined(__clang__)
#define UNROLL_FULLY _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__) && __GNUC__ >= 8
#define UNROLL_FULLY _Pragma("GCC unroll 16")
#else
#define UNROLL_FULLY
#endif

#if defined(_MSC_VER)
#define ALWAYS_INLINE static __forceinline
#else
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#endif

ALWAYS_INLINE void
interleave(__m128i *v, int nv, int bit)
{
    __m128i t[16];
    int step = 1 << bit;
    UNROLL_FULLY
    for (int k = 0; k < nv; k++) {
        if (!(k & step)) {
            t[k] = _mm_unpacklo_epi8(v[k], v[k + step]);
            t[k + step] = _mm_unpackhi_epi8(v[k], v[k + step]);
        }
    }
    UNROLL_FULLY
    for (int k = 0; k < nv; k++) {
        v[k] = t[k];
    }
}

/* log2(size) for 2, 4, 8, 16 */
#define LOG2_SIZE(size) ((size) == 2 ? 1 : (size) == 4 ? 2 : (size) == 8 ? 3 : 4)

ALWAYS_INLINE void
unshuffle_tile(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n, Py_ssize_t i, int size,
               int stream)
{
    __m128i v[16];
    UNROLL_FULLY
    for (int b = 0; b < size; b++) {
        v[b] = _mm_loadu_si128((const __m128i *)(src + b * n + i));
    }
    UNROLL_FULLY
    for (int bit = LOG2_SIZE(size) - 1; bit >= 0; bit--) {
        interleave(v, size, bit);
    }
    UNROLL_FULLY
    for (int q = 0; q < size; q++) {
        if (stream) {
            _mm_stream_si128((__m128i *)(dst + i * size + 16 * q), v[q]);
        }
        else {
            _mm_storeu_si128((__m128i *)(dst + i * size + 16 * q), v[q]);
        }
    }
}


ALWAYS_INLINE void
unshuffle_tiles(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n, int size, int stream)
{
    Py_ssize_t i = 0;
    /* Streamed: only the whole cache lines of dst, by whole tiles; the partial lines at either end,
     * which dst may share with its neighbours, get plain stores. A line written partly streamed
     * and partly plain is merged in memory: streaming every piece of a chunk of 4 kB arrays that
     * way made it decode 15 % slower (0.33x -> 0.28x lz4); whole lines only, 0.30-0.31x against
     * 0.29-0.30x plain. */
    size_t head = (64 - ((uintptr_t)dst & 63)) & 63, total = (size_t)n * (size_t)size;
    if (stream && head % (size_t)size == 0 && head < total) {
        size_t unit = size == 2 ? 64 : 16 * (size_t)size; /* whole tiles filling whole lines */
        Py_ssize_t first = (Py_ssize_t)(head / (size_t)size);
        Py_ssize_t last = first + (Py_ssize_t)((total - head) / unit * unit / (size_t)size);
        unshuffle_range(dst, src, n, size, 0, first);
        for (i = first; i < last; i += 16) {
            unshuffle_tile(dst, src, n, i, size, 1);
        }
        _mm_sfence(); /* order the streamed stores before the caller reads dst */
    }
    for (; i + 16 <= n; i += 16) {
        unshuffle_tile(dst, src, n, i, size, 0);
    }
    unshuffle_range(dst, src, n, size, i, n);
}

/* Size 16 as two halves of 8 planes (16 tile vectors plus as many temporaries would not fit in
 * the 16 SSE registers): each half gives 16 items x 8 bytes, stored as 8-byte halves of the items. */
static void
unshuffle_tiles16(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n)
{
    __m128i v[8];
    Py_ssize_t i = 0;
    for (; i + 16 <= n; i += 16) {
        UNROLL_FULLY
        for (int half = 0; half < 2; half++) {
            UNROLL_FULLY
            for (int b = 0; b < 8; b++) {
                v[b] = _mm_loadu_si128((const __m128i *)(src + (8 * half + b) * n + i));
            }
            interleave(v, 8, 2);
            interleave(v, 8, 1);
            interleave(v, 8, 0);
            uint8_t *out = dst + i * 16 + 8 * half;
            UNROLL_FULLY
            for (int q = 0; q < 8; q++) { /* v[q]: this half of items 2q and 2q + 1 */
                _mm_storel_epi64((__m128i *)(out + 32 * q), v[q]);
                _mm_storel_epi64((__m128i *)(out + 32 * q + 16), _mm_unpackhi_epi64(v[q], v[q]));
            }
        }
    }
    unshuffle_range(dst, src, n, 16, i, n);
}

/* The pairing bits of the 4 shuffle stages (size 2: 0,0,0,0; 4: 1,0,1,0; 8: 2,1,0,2; 16: 3,2,1,0),
 * as literals so the compiler keeps the tile in registers. */
ALWAYS_INLINE void
shuffle_stages(__m128i *v, int size)
{
    switch (size) {
    case 2: interleave(v, 2, 0); interleave(v, 2, 0); interleave(v, 2, 0); interleave(v, 2, 0); break;
    case 4: interleave(v, 4, 1); interleave(v, 4, 0); interleave(v, 4, 1); interleave(v, 4, 0); break;
    case 8: interleave(v, 8, 2); interleave(v, 8, 1); interleave(v, 8, 0); interleave(v, 8, 2); break;
    default: interleave(v, 16, 3); interleave(v, 16, 2); interleave(v, 16, 1); interleave(v, 16, 0); break;
    }
}

/* Where byte plane b ends for size 8 (the others end in order): index bits (b1, b2, b0), low first. */
#define PLANE_AT_8(b) ((((b) >> 1) & 1) | (((b) >> 2) & 1) << 1 | ((b) & 1) << 2)

ALWAYS_INLINE void
shuffle_tiles(uint8_t *restrict dst, const uint8_t *restrict src, Py_ssize_t n, int size)
{
    __m128i v[16];
    Py_ssize_t i = 0;
    for (; i + 16 <= n; i += 16) {
        UNROLL_FULLY
        for (int q = 0; q < size; q++) {
            v[q] = _mm_loadu_si128((const __m128i *)(src + i * size + 16 * q));
        }
        shuffle_stages(v, size);
        UNROLL_FULLY
        for (int b = 0; b < size; b++) {
            _mm_storeu_si128((__m128i *)(dst + b * n + i), v[size == 8 ? PLANE_AT_8(b) : b]);
        }
    }
    shuffle_range(dst, src, n, size, i, n);
}
#endif /* GSP_SSE2 */

/* Fastest path for this build: SSE2 tiles where available, else the portable loops. */
static void
shuffle_fast(uint8_t *dst, const uint8_t *src, Py_ssize_t n, Py_ssize_t size)
{
#if GSP_SSE2
    switch (size) {
    case 2: shuffle_tiles(dst, src, n, 2); return;
    case 4: shuffle_tiles(dst, src, n, 4); return;
    case 8: shuffle_tiles(dst, src, n, 8); return;
    case 16: shuffle_tiles(dst, src, n, 16); return;
    default: break;
    }
#endif
    if (size == 1) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    shuffle_portable(dst, src, n, size);
}

/* `stream`: write with non-temporal stores where the SIMD tiles can (see STREAM_MIN_BYTES). */
static void
unshuffle_to(uint8_t *dst, const uint8_t *src, Py_ssize_t n, Py_ssize_t size, int stream)
{
#if GSP_SSE2
    switch (size) {
    case 2: unshuffle_tiles(dst, src, n, 2, stream); return;
    case 4: unshuffle_tiles(dst, src, n, 4, stream); return;
    case 8: unshuffle_tiles(dst, src, n, 8, stream); return;
    case 16: unshuffle_tiles16(dst, src, n); return;
    default: break;
    }
#else
    (void)stream;
#endif
    if (size == 1) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    unshuffle_portable(dst, src, n, size);
}

/* 1 when most pages of [buf, buf + len) are in memory already (memory the process had used and
 * freed, which malloc hands out again), 0 when most are not (fresh from the kernel), -1 when the
 * system cannot tell. */
static int
mostly_resident(const uint8_t *buf, size_t len)
{
#if GSP_MINCORE
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || len == 0) {
        return -1;
    }
    uintptr_t first = (uintptr_t)buf & ~((uintptr_t)page - 1);
    size_t span = (size_t)((uintptr_t)buf + len - first), pages = (span + (size_t)page - 1) / (size_t)page;
    unsigned char *vec = malloc(pages);
    if (vec == NULL) {
        return -1;
    }
    int answer = -1;
    if (mincore((void *)first, span, (GSP_MINCORE_VEC *)vec) == 0) {
        size_t resident = 0;
        for (size_t k = 0; k < pages; k++) {
            resident += vec[k] & 1;
        }
        answer = 2 * resident > pages;
    }
    free(vec);
    return answer;
#else
    (void)buf;
    (void)len;
    return -1;
#endif
}

/* Whether an output of `len` bytes at `dst` should be streamed (see STREAM_MIN_BYTES). */
static int
worth_streaming(const uint8_t *dst, size_t len, size_t whole)
{
    return GSP_SSE2 && whole >= STREAM_MIN_BYTES && mostly_resident(dst, len) == 1;
}

static void
unshuffle_fast(uint8_t *dst, const uint8_t *src, Py_ssize_t n, Py_ssize_t size)
{
    size_t len = (size_t)n * (size_t)size;
    unshuffle_to(dst, src, n, size, worth_streaming(dst, len, len));
}

/* ------------------------------------------------------------------------------------------ */
/* Argument checking                                                                          */
/* ------------------------------------------------------------------------------------------ */
static int
get_buffer(PyObject *obj, Py_buffer *view, const char *func, const char *name, int writable)
{
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Format(PyExc_TypeError, "%s(): %s must be a bytes-like object (buffer protocol), not %.100s",
                     func, name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    /* Ask for strides so a non-contiguous exporter answers, then refuse it with our own message. */
    if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES) < 0) {
        return -1;
    }
    if (!PyBuffer_IsContiguous(view, 'C')) {
        PyErr_Format(PyExc_ValueError, "%s(): %s must be C-contiguous", func, name);
        PyBuffer_Release(view);
        return -1;
    }
    if (writable && view->readonly) {
        PyErr_Format(PyExc_TypeError, "%s(): %s must be writable (got a read-only %.100s)", func, name,
                     Py_TYPE(obj)->tp_name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

typedef void (*kernel_t)(uint8_t *, const uint8_t *, Py_ssize_t, Py_ssize_t);

static PyObject *
run(PyObject *const *args, Py_ssize_t nargs, const char *func, kernel_t kernel)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "%s() takes 3 arguments (dst, src, itemsize), got %zd", func, nargs);
        return NULL;
    }
    if (!PyLong_Check(args[2])) {
        PyErr_Format(PyExc_TypeError, "%s(): itemsize must be an int, not %.100s", func, Py_TYPE(args[2])->tp_name);
        return NULL;
    }
    Py_ssize_t size = PyLong_AsSsize_t(args[2]);
    if (size == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        size = 0; /* out of range: reported below */
    }
    if (size < 1 || size > MAX_ITEMSIZE) {
        PyErr_Format(PyExc_ValueError, "%s(): itemsize must be in 1..%d, got %R", func, MAX_ITEMSIZE, args[2]);
        return NULL;
    }
    Py_buffer dst, src;
    if (get_buffer(args[0], &dst, func, "dst", 1) < 0) {
        return NULL;
    }
    if (get_buffer(args[1], &src, func, "src", 0) < 0) {
        PyBuffer_Release(&dst);
        return NULL;
    }
    PyObject *result = NULL;
    const uint8_t *s = (const uint8_t *)src.buf;
    uint8_t *d = (uint8_t *)dst.buf;
    if (dst.len != src.len) {
        PyErr_Format(PyExc_ValueError, "%s(): dst has %zd bytes, src has %zd (they must be equal)", func, dst.len,
                     src.len);
    }
    else if (src.len % size) {
        PyErr_Format(PyExc_ValueError, "%s(): length %zd is not a multiple of itemsize %zd", func, src.len, size);
    }
    else if (src.len && d < s + src.len && s < d + dst.len) {
        PyErr_Format(PyExc_ValueError, "%s(): dst and src overlap in memory", func);
    }
    else {
        Py_ssize_t n = src.len / size;
        if (n) {
            Py_BEGIN_ALLOW_THREADS
            kernel(d, s, n, size);
            Py_END_ALLOW_THREADS
        }
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return result;
}

static PyObject *
shuffle_into(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    return run(args, nargs, "shuffle_into", shuffle_fast);
}

static PyObject *
unshuffle_into(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    return run(args, nargs, "unshuffle_into", unshuffle_fast);
}

/* The portable loops, exported so tests check them on hosts where the fast path is SIMD. */
static PyObject *
shuffle_into_portable(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    return run(args, nargs, "_shuffle_into_portable", shuffle_portable);
}

static PyObject *
unshuffle_into_portable(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    return run(args, nargs, "_unshuffle_into_portable", unshuffle_portable);
}

PyDoc_STRVAR(shuffle_into_doc,
"shuffle_into(dst, src, itemsize, /)\n--\n\n"
"Byte-shuffle src (n = len(src) // itemsize items) into dst: itemsize planes of n bytes,\n"
"plane j holding byte j of every item. dst and src are C-contiguous bytes-like objects of\n"
"equal length (a multiple of itemsize), dst writable, not overlapping; itemsize in 1..16.\n"
"Raises TypeError (not a buffer, dst read-only, itemsize not an int) or ValueError.");

PyDoc_STRVAR(unshuffle_into_doc,
"unshuffle_into(dst, src, itemsize, /)\n--\n\n"
"Inverse of shuffle_into: itemsize byte planes in src back into n items in dst.\n"
"Same argument rules and errors as shuffle_into.");

/* ------------------------------------------------------------------------------------------ */
/* A whole block of a BLOCKS chunk (sessions/blocks.py)                                         */
/* ------------------------------------------------------------------------------------------ */
static uint64_t
le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

#define ARRAY_RECORD 24 /* u64 offset, u64 length, u32 itemsize, u32 0 (little-endian) */

/* The first record of `table` (count records, in body coordinates) that is not a sorted piece of
 * whole items within the block [block_start, block_end), or -1 when all are. */
static Py_ssize_t
bad_piece(const uint8_t *table, Py_ssize_t count, uint64_t block_start, uint64_t block_end)
{
    uint64_t previous = block_start;
    for (Py_ssize_t k = 0; k < count; k++) {
        const uint8_t *r = table + k * ARRAY_RECORD;
        uint64_t start = le64(r), length = le64(r + 8);
        uint32_t itemsize = (uint32_t)r[16] | (uint32_t)r[17] << 8 | (uint32_t)r[18] << 16 | (uint32_t)r[19] << 24;
        uint64_t lo = start > block_start ? start : block_start;
        uint64_t hi = length > UINT64_MAX - start || start + length > block_end ? block_end : start + length;
        if (itemsize < 1 || itemsize > MAX_ITEMSIZE || lo < previous || lo > hi || (hi - lo) % itemsize ||
            (lo - start) % itemsize) {
            return k;
        }
        previous = hi;
    }
    return -1;
}

/* One decompressed block `in` of `len` bytes placed at out + block_start: the pieces of the
 * `count` records of `table` (checked by bad_piece) unshuffled, every other byte copied. No GIL. */
static void
place_block(uint8_t *out, const uint8_t *in, uint64_t block_start, uint64_t len, const uint8_t *table,
            Py_ssize_t count, int stream)
{
    /* Copies between the pieces (a chunk's rows, read next) are never streamed. */
    stream = stream && GSP_SSE2;
    uint64_t block_end = block_start + len, copied = block_start; /* body bytes of this block placed so far */
    for (Py_ssize_t k = 0; k < count; k++) {
        const uint8_t *r = table + k * ARRAY_RECORD;
        uint64_t start = le64(r), length = le64(r + 8);
        Py_ssize_t itemsize = (Py_ssize_t)r[16] | (Py_ssize_t)r[17] << 8;
        uint64_t lo = start > copied ? start : copied;
        uint64_t hi = length > UINT64_MAX - start || start + length > block_end ? block_end : start + length;
        if (copied < lo) {
            memcpy(out + copied, in + (copied - block_start), (size_t)(lo - copied));
        }
        unshuffle_to(out + lo, in + (lo - block_start), (Py_ssize_t)((hi - lo) / (uint64_t)itemsize), itemsize,
                     stream && hi - lo >= STREAM_MIN_PIECE);
        copied = hi;
    }
    if (copied < block_end) {
        memcpy(out + copied, in + (copied - block_start), (size_t)(block_end - copied));
    }
}

static PyObject *
unshuffle_block(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    const char *func = "unshuffle_block";
    if (nargs != 4 && nargs != 5) {
        PyErr_Format(PyExc_TypeError, "%s() takes 4 or 5 arguments (body, block, block_start, arrays[, stream]), "
                     "got %zd", func, nargs);
        return NULL;
    }
    int stream = nargs == 5 ? PyObject_IsTrue(args[4]) : 0;
    if (stream < 0) {
        return NULL;
    }
    Py_ssize_t block_start = PyLong_AsSsize_t(args[2]);
    if (block_start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_buffer body, block, arrays;
    if (get_buffer(args[0], &body, func, "body", 1) < 0) {
        return NULL;
    }
    if (get_buffer(args[1], &block, func, "block", 0) < 0) {
        PyBuffer_Release(&body);
        return NULL;
    }
    if (get_buffer(args[3], &arrays, func, "arrays", 0) < 0) {
        PyBuffer_Release(&block);
        PyBuffer_Release(&body);
        return NULL;
    }
    PyObject *result = NULL;
    uint8_t *out = (uint8_t *)body.buf;
    const uint8_t *in = (const uint8_t *)block.buf, *table = (const uint8_t *)arrays.buf;
    Py_ssize_t count = arrays.len / ARRAY_RECORD;
    if (block_start < 0 || block.len > body.len - block_start || arrays.len % ARRAY_RECORD) {
        PyErr_Format(PyExc_ValueError, "%s(): a block of %zd bytes at %zd does not fit a body of %zd bytes, or "
                     "the array table has %zd bytes (not records of %d)", func, block.len, block_start, body.len,
                     arrays.len, ARRAY_RECORD);
        goto done;
    }
    if ((const uint8_t *)in < out + body.len && out < (const uint8_t *)in + block.len) {
        PyErr_Format(PyExc_ValueError, "%s(): body and block overlap in memory", func);
        goto done;
    }
    /* Check every piece before writing anything: sorted, inside the block, whole items. */
    uint64_t block_end = (uint64_t)block_start + (uint64_t)block.len;
    Py_ssize_t bad = bad_piece(table, count, (uint64_t)block_start, block_end);
    if (bad >= 0) {
        const uint8_t *r = table + bad * ARRAY_RECORD;
        PyErr_Format(PyExc_ValueError, "%s(): array %zd of the table (%llu bytes at %llu, items of %u) is not "
                     "a sorted piece of whole items within the block [%zd, %llu)", func, bad,
                     (unsigned long long)le64(r + 8), (unsigned long long)le64(r),
                     (unsigned)((uint32_t)r[16] | (uint32_t)r[17] << 8 | (uint32_t)r[18] << 16 | (uint32_t)r[19] << 24),
                     block_start, (unsigned long long)block_end);
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    place_block(out, in, (uint64_t)block_start, (uint64_t)block.len, table, count, stream);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&arrays);
    PyBuffer_Release(&block);
    PyBuffer_Release(&body);
    return result;
}

PyDoc_STRVAR(unshuffle_block_doc,
"unshuffle_block(body, block, block_start, arrays, stream=False, /)\n--\n\n"
"Place one decompressed block of a BLOCKS chunk at body[block_start:]: the pieces of the arrays\n"
"in `arrays` (records of u64 offset, u64 length, u32 itemsize, u32 0 in body coordinates, sorted,\n"
"none past the block) are unshuffled, every other byte is copied. `stream`: write the pieces of\n"
"8 kB or more with non-temporal stores (ask should_stream(body) before the first block).\n"
"ValueError when the block or a record does not fit, before anything is written.");

static PyObject *
should_stream(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer view;
    if (get_buffer(arg, &view, "should_stream", "dst", 0) < 0) {
        return NULL;
    }
    int answer = worth_streaming((const uint8_t *)view.buf, (size_t)view.len, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyBool_FromLong(answer);
}

PyDoc_STRVAR(should_stream_doc,
"should_stream(dst, /)\n--\n\n"
"Whether unshuffling into dst is faster with non-temporal stores: dst is 1 MiB or more and most\n"
"of its pages are in memory already (reused, not fresh from the kernel).");

/* block_pieces(arrays, raw_size, block_size): the chunk's table of shuffled arrays checked and
 * split among its blocks in one pass (sessions/blocks.py; shuffle.block_pieces_python is the twin). */
static PyObject *
block_pieces(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    const char *func = "block_pieces";
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "%s() takes 3 arguments (arrays, raw_size, block_size), got %zd", func, nargs);
        return NULL;
    }
    Py_ssize_t raw_size = PyLong_AsSsize_t(args[1]), block_size = PyLong_AsSsize_t(args[2]);
    if ((raw_size == -1 || block_size == -1) && PyErr_Occurred()) {
        return NULL;
    }
    if (raw_size < 0 || block_size <= 0) {
        PyErr_Format(PyExc_ValueError, "%s(): raw_size must be >= 0 and block_size > 0", func);
        return NULL;
    }
    Py_buffer arrays;
    if (get_buffer(args[0], &arrays, func, "arrays", 0) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    const uint8_t *table = (const uint8_t *)arrays.buf;
    Py_ssize_t count = arrays.len / ARRAY_RECORD;
    uint64_t *ends = NULL;
    if (arrays.len % ARRAY_RECORD) {
        PyErr_Format(PyExc_ValueError, "%s(): the array table has %zd bytes (not records of %d)", func, arrays.len,
                     ARRAY_RECORD);
        goto done;
    }
    ends = PyMem_Malloc((size_t)(count ? count : 1) * sizeof(uint64_t));
    if (ends == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* Whole items of 2, 4, 8 or 16 bytes, inside the raw bytes, sorted, not overlapping. */
    uint64_t previous = 0, raw = (uint64_t)raw_size;
    for (Py_ssize_t k = 0; k < count; k++) {
        const uint8_t *r = table + k * ARRAY_RECORD;
        uint64_t start = le64(r), length = le64(r + 8);
        uint32_t itemsize = (uint32_t)r[16] | (uint32_t)r[17] << 8 | (uint32_t)r[18] << 16 | (uint32_t)r[19] << 24;
        int good = (itemsize == 2 || itemsize == 4 || itemsize == 8 || itemsize == 16) && length <= raw &&
                   start <= raw - length && start % itemsize == 0 && length % itemsize == 0 && start >= previous;
        if (!good) {
            PyErr_Format(PyExc_ValueError, "bad shuffled array: %llu bytes at %llu, items of %u",
                         (unsigned long long)length, (unsigned long long)start, itemsize);
            goto done;
        }
        previous = ends[k] = start + length;
    }
    Py_ssize_t blocks = raw_size / block_size + (raw_size % block_size != 0);
    result = PyList_New(blocks);
    if (result == NULL) {
        goto done;
    }
    Py_ssize_t first = 0, stop = 0; /* first array ending past the block's start; first starting at its end */
    for (Py_ssize_t b = 0; b < blocks; b++) {
        uint64_t block_start = (uint64_t)b * (uint64_t)block_size;
        uint64_t block_end = block_start + (uint64_t)block_size < raw ? block_start + (uint64_t)block_size : raw;
        while (first < count && ends[first] <= block_start) {
            first++;
        }
        while (stop < count && le64(table + stop * ARRAY_RECORD) < block_end) {
            stop++;
        }
        PyObject *piece = Py_BuildValue("(nn)", first, stop > first ? stop : first);
        if (piece == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, b, piece);
    }
done:
    PyMem_Free(ends);
    PyBuffer_Release(&arrays);
    return result;
}

PyDoc_STRVAR(block_pieces_doc,
"block_pieces(arrays, raw_size, block_size, /)\n--\n\n"
"The run [first, stop) of the records of `arrays` (u64 offset, u64 length, u32 itemsize, u32 0)\n"
"that overlap each block of `block_size` raw bytes, as a list of (first, stop), one per block of\n"
"`raw_size` bytes. ValueError when a record is not whole items of 2, 4, 8 or 16 bytes inside the\n"
"raw bytes, sorted and not overlapping the one before (its message names the record).");

/* ------------------------------------------------------------------------------------------ */
/* BlockRun: the blocks of one BLOCKS chunk decoded by several threads, none of them holding   */
/* the GIL between blocks (sessions/blocks.py, _Blocks)                                         */
/* ------------------------------------------------------------------------------------------ */
/* While the calling thread builds the chunk's commands (msgpack and Command objects: the GIL held
 * for milliseconds in one C call), a thread that needed the GIL between blocks would wait for all
 * of it. Each thread runs decode(part) once or twice: its own run of blocks from the front, then
 * blocks taken from the back of the run with the most left, as the Python loop does. */

/* LZ4_decompress_safe(src, dst, compressedSize, dstCapacity): bytes written, or < 0 */
typedef int (*lz4_decompress_t)(const char *, char *, int, int);

enum { FAILED_LZ4 = 1, FAILED_SIZE = 2, FAILED_TABLE = 3 };

typedef struct {
    Py_ssize_t number; /* the block */
    int kind;          /* FAILED_*: lz4 error (value = input byte), wrong size (value = bytes), bad table piece */
    long long value;
} BlockFailure;

typedef struct {
    PyObject_HEAD
    lz4_decompress_t decompress;
    Py_buffer src, body, table;
    int held; /* buffers obtained: 0..3 */
    Py_ssize_t count, block_size, records, parts;
    Py_ssize_t *starts;       /* count + 1 stored offsets of the blocks, then the payload's end */
    Py_ssize_t *first, *stop; /* the run of table records each block's array pieces are in */
    Py_ssize_t *runs;         /* 2 * parts: [first, stop) of the blocks still untaken in each run */
    Py_ssize_t *in_order;     /* per part: body bytes placed from its run's start, one block after another */
    Py_ssize_t started;       /* parts whose thread has entered decode() */
    Py_ssize_t decoding;      /* threads inside decode() now */
    char *entered;            /* per part: whether it has */
    int stream;
    PyThread_type_lock lock;
    BlockFailure *failures;
    Py_ssize_t failure_count;
    char *state; /* per block: BLOCK_* */
    /* copy_out's buffers, sorted by their offsets in the body, none overlapping the next */
    Py_ssize_t target_count; /* -1 until copy_out() */
    Py_buffer *targets;
    Py_ssize_t *target_at;
} BlockRun;

/* A block is taken before or after copy_out() gave the targets: after, its thread copies the
 * targets' parts of it once it is placed; before, whichever of copy_out() and its thread comes
 * second does. */
enum { BLOCK_UNTAKEN = 0, BLOCK_TAKEN = 1, BLOCK_TAKEN_OWES_COPY = 2, BLOCK_DONE = 3 };

/* Release copy_out's buffers (every decode() has returned). */
static void
release_targets(BlockRun *self)
{
    for (Py_ssize_t i = 0; i < self->target_count; i++) {
        PyBuffer_Release(&self->targets[i]);
    }
    self->target_count = 0;
}

static void
BlockRun_dealloc(BlockRun *self)
{
    PyTypeObject *type = Py_TYPE(self);
    if (self->held > 2) {
        PyBuffer_Release(&self->table);
    }
    if (self->held > 1) {
        PyBuffer_Release(&self->body);
    }
    if (self->held > 0) {
        PyBuffer_Release(&self->src);
    }
    PyMem_Free(self->starts);
    PyMem_Free(self->first);
    PyMem_Free(self->stop);
    PyMem_Free(self->runs);
    PyMem_Free(self->in_order);
    PyMem_Free(self->entered);
    PyMem_Free(self->failures);
    release_targets(self);
    PyMem_Free(self->targets);
    PyMem_Free(self->target_at);
    PyMem_Free(self->state);
    if (self->lock != NULL) {
        PyThread_free_lock(self->lock);
    }
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* An int of a sequence, within [low, high]; -1 with an error set otherwise. */
static Py_ssize_t
item_within(PyObject *sequence, Py_ssize_t i, Py_ssize_t low, Py_ssize_t high, const char *what)
{
    PyObject *item = PySequence_Fast_GET_ITEM(sequence, i);
    Py_ssize_t value = PyLong_AsSsize_t(item);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (value < low || value > high) {
        PyErr_Format(PyExc_ValueError, "BlockRun(): %s %zd is %zd, outside [%zd, %zd]", what, i, value, low, high);
        return -1;
    }
    return value;
}

static PyObject *
BlockRun_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"decompress", "src", "starts", "body", "block_size", "table", "pieces", "stream",
                            "parts", NULL};
    PyObject *address, *src, *starts, *body, *table, *pieces;
    Py_ssize_t block_size, parts;
    int stream;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOnOOpn:BlockRun", names, &address, &src, &starts, &body,
                                     &block_size, &table, &pieces, &stream, &parts)) {
        return NULL;
    }
    void *function = PyLong_AsVoidPtr(address);
    if (function == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "BlockRun(): decompress must be the address of LZ4_decompress_safe");
        }
        return NULL;
    }
    BlockRun *self = (BlockRun *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->decompress = (lz4_decompress_t)function;
    self->stream = stream;
    self->target_count = -1;
    PyObject *starts_seq = NULL, *pieces_seq = NULL;
    if (get_buffer(src, &self->src, "BlockRun", "src", 0) < 0) {
        goto fail;
    }
    self->held = 1;
    if (get_buffer(body, &self->body, "BlockRun", "body", 1) < 0) {
        goto fail;
    }
    self->held = 2;
    if (get_buffer(table, &self->table, "BlockRun", "table", 0) < 0) {
        goto fail;
    }
    self->held = 3;
    starts_seq = PySequence_Fast(starts, "BlockRun(): starts must be a sequence");
    pieces_seq = starts_seq != NULL ? PySequence_Fast(pieces, "BlockRun(): pieces must be a sequence") : NULL;
    if (pieces_seq == NULL) {
        goto fail;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(pieces_seq);
    self->count = count;
    self->block_size = block_size;
    self->records = self->table.len / ARRAY_RECORD;
    self->parts = parts;
    if (PySequence_Fast_GET_SIZE(starts_seq) != count + 1 || block_size <= 0 || block_size > INT_MAX ||
        self->table.len % ARRAY_RECORD || parts < 1 || parts > (count > 0 ? count : 1) ||
        self->body.len > (count > 0 ? count * block_size : 0) || (count > 0 && self->body.len <= (count - 1) * block_size)) {
        PyErr_Format(PyExc_ValueError, "BlockRun(): %zd blocks of %zd bytes, %zd starts, a body of %zd bytes, a "
                     "table of %zd bytes and %zd parts do not fit together", count, block_size,
                     PySequence_Fast_GET_SIZE(starts_seq), self->body.len, self->table.len, parts);
        goto fail;
    }
    self->starts = PyMem_New(Py_ssize_t, count + 1);
    self->first = PyMem_New(Py_ssize_t, count > 0 ? count : 1);
    self->stop = PyMem_New(Py_ssize_t, count > 0 ? count : 1);
    self->runs = PyMem_New(Py_ssize_t, 2 * parts);
    self->in_order = PyMem_New(Py_ssize_t, parts);
    self->entered = PyMem_New(char, parts);
    self->failures = PyMem_New(BlockFailure, count > 0 ? count : 1);
    self->state = PyMem_Calloc(count > 0 ? (size_t)count : 1, 1); /* BLOCK_UNTAKEN */
    self->lock = PyThread_allocate_lock();
    if (self->starts == NULL || self->first == NULL || self->stop == NULL || self->runs == NULL ||
        self->in_order == NULL || self->entered == NULL || self->failures == NULL || self->state == NULL ||
        self->lock == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t previous = 0;
    for (Py_ssize_t i = 0; i <= count; i++) {
        previous = self->starts[i] = item_within(starts_seq, i, previous, self->src.len, "start");
        if (previous < 0) {
            goto fail;
        }
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *piece = PySequence_Fast_GET_ITEM(pieces_seq, i);
        Py_ssize_t first, stop;
        if (!PyTuple_Check(piece) || !PyArg_ParseTuple(piece, "nn", &first, &stop) || first < 0 || first > stop ||
            stop > self->records) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_ValueError, "BlockRun(): pieces %zd is not (first, stop) of the %zd records",
                             i, self->records);
            }
            goto fail;
        }
        self->first[i] = first;
        self->stop[i] = stop;
    }
    for (Py_ssize_t k = 0; k < parts; k++) {
        self->runs[2 * k] = count * k / parts;
        self->runs[2 * k + 1] = count * (k + 1) / parts;
        self->in_order[k] = self->runs[2 * k] * block_size;
        self->entered[k] = 0;
    }
    Py_DECREF(starts_seq);
    Py_DECREF(pieces_seq);
    return (PyObject *)self;
fail:
    Py_XDECREF(starts_seq);
    Py_XDECREF(pieces_seq);
    Py_DECREF(self);
    return NULL;
}

/* The body's bytes [start, start + len) copied into the parts of the targets they overlap. No GIL. */
static void
copy_to_targets(BlockRun *self, Py_ssize_t start, Py_ssize_t len)
{
    Py_ssize_t end = start + len, low = 0, high = self->target_count;
    while (low < high) { /* the first target that ends after start (their ends are sorted too) */
        Py_ssize_t mid = low + (high - low) / 2;
        if (self->target_at[mid] + self->targets[mid].len <= start) {
            low = mid + 1;
        }
        else {
            high = mid;
        }
    }
    const uint8_t *body = (const uint8_t *)self->body.buf;
    for (Py_ssize_t i = low; i < self->target_count && self->target_at[i] < end; i++) {
        Py_ssize_t at = self->target_at[i];
        Py_ssize_t lo = at > start ? at : start, hi = at + self->targets[i].len < end ? at + self->targets[i].len : end;
        if (lo < hi) {
            memcpy((uint8_t *)self->targets[i].buf + (lo - at), body + lo, (size_t)(hi - lo));
        }
    }
}

/* The next block for the thread of run `part`, or -1 once every block is taken (block 0 is left
 * to run 0, the caller's thread, until it comes). The lock is held by the caller. */
static Py_ssize_t
take_block(BlockRun *self, Py_ssize_t part)
{
    Py_ssize_t *run = self->runs + 2 * part;
    if (run[0] < run[1]) {
        return run[0]++;
    }
    Py_ssize_t most = -1, left = 0;
    for (Py_ssize_t k = 0; k < self->parts; k++) {
        Py_ssize_t other = self->runs[2 * k + 1] - self->runs[2 * k];
        if (k == 0 && !self->entered[0] && self->runs[0] == 0) {
            other--; /* block 0 waits for the caller's thread: its early commands need it in place */
        }
        if (other > left) {
            most = k;
            left = other;
        }
    }
    return most < 0 ? -1 : --self->runs[2 * most + 1];
}

static PyObject *
BlockRun_decode(BlockRun *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t part, until;
    if (nargs != 2 || (part = PyLong_AsSsize_t(args[0])) == -1 || (until = PyLong_AsSsize_t(args[1])) == -1) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "decode(part, until) takes two ints >= 0");
        }
        return NULL;
    }
    if (part < 0 || part >= self->parts || until < 0) {
        PyErr_Format(PyExc_ValueError, "decode(): part %zd of %zd, until %zd", part, self->parts, until);
        return NULL;
    }
    int any_shuffled = 0;
    for (Py_ssize_t i = 0; i < self->count && !any_shuffled; i++) {
        any_shuffled = self->first[i] < self->stop[i];
    }
    uint8_t *scratch = NULL;
    if (any_shuffled && (scratch = PyMem_RawMalloc((size_t)self->block_size)) == NULL) {
        return PyErr_NoMemory();
    }
    uint8_t *out = (uint8_t *)self->body.buf;
    const uint8_t *src = (const uint8_t *)self->src.buf, *table = (const uint8_t *)self->table.buf;
    Py_ssize_t in_order;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    if (!self->entered[part]) {
        self->entered[part] = 1;
        self->started++;
    }
    self->decoding++;
    PyThread_release_lock(self->lock);
    for (;;) {
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        /* Back to the caller once the prefix is in place and every other thread is past the GIL. */
        int back = until > 0 && self->in_order[part] >= until && self->started >= self->parts;
        Py_ssize_t number = back ? -1 : take_block(self, part);
        if (number >= 0) {
            self->state[number] = self->target_count >= 0 ? BLOCK_TAKEN_OWES_COPY : BLOCK_TAKEN;
        }
        PyThread_release_lock(self->lock);
        if (number < 0) {
            break;
        }
        Py_ssize_t block_start = number * self->block_size;
        Py_ssize_t len = self->body.len - block_start < self->block_size ? self->body.len - block_start : self->block_size;
        const char *stored = (const char *)src + self->starts[number];
        int stored_size = (int)(self->starts[number + 1] - self->starts[number]);
        int shuffled = self->first[number] < self->stop[number];
        const uint8_t *records = table + self->first[number] * ARRAY_RECORD;
        Py_ssize_t record_count = self->stop[number] - self->first[number];
        BlockFailure failure = {number, 0, 0};
        if (self->starts[number + 1] - self->starts[number] > INT_MAX) {
            failure.kind = FAILED_LZ4;
        }
        else {
            int written = self->decompress(stored, (char *)(shuffled ? scratch : out + block_start), stored_size, (int)len);
            if (written < 0) {
                failure.kind = FAILED_LZ4;
                failure.value = -(long long)written - 1;
            }
            else if (written != len) {
                failure.kind = FAILED_SIZE;
                failure.value = written;
            }
            else if (shuffled) {
                if (bad_piece(records, record_count, (uint64_t)block_start, (uint64_t)(block_start + len)) >= 0) {
                    failure.kind = FAILED_TABLE;
                }
                else {
                    place_block(out, scratch, (uint64_t)block_start, (uint64_t)len, records, record_count, self->stream);
                }
            }
        }
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        int owes_copy = self->state[number] == BLOCK_TAKEN_OWES_COPY;
        self->state[number] = BLOCK_DONE;
        if (failure.kind) {
            self->failures[self->failure_count++] = failure;
        }
        else if (self->in_order[part] == block_start) { /* after a bad or stolen block it stays behind for good */
            self->in_order[part] = block_start + len;
        }
        PyThread_release_lock(self->lock);
        if (owes_copy && !failure.kind) { /* from cache: the block was just written */
            copy_to_targets(self, block_start, len);
        }
    }
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    in_order = self->in_order[part];
    self->decoding--;
    PyThread_release_lock(self->lock);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(scratch);
    return PyLong_FromSsize_t(in_order);
}

static PyObject *
BlockRun_copy_out(BlockRun *self, PyObject *arg)
{
    if (self->target_count >= 0) {
        PyErr_SetString(PyExc_ValueError, "copy_out() takes its targets once");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(arg, "copy_out() takes a sequence of (offset, writable buffer)");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), held = 0, end = 0;
    Py_buffer *targets = PyMem_New(Py_buffer, n > 0 ? n : 1);
    Py_ssize_t *at = PyMem_New(Py_ssize_t, n > 0 ? n : 1);
    char *copy_now = PyMem_Calloc(self->count > 0 ? (size_t)self->count : 1, 1);
    if (targets == NULL || at == NULL || copy_now == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (; held < n; held++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, held), *buffer;
        if (!PyTuple_Check(item) || !PyArg_ParseTuple(item, "nO", &at[held], &buffer)) {
            if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "copy_out(): target %zd is not (offset, buffer)", held);
            }
            goto fail;
        }
        if (PyObject_GetBuffer(buffer, &targets[held], PyBUF_WRITABLE) < 0) {
            goto fail;
        }
        if (at[held] < end || targets[held].len > self->body.len - at[held]) {
            PyErr_Format(PyExc_ValueError, "copy_out(): target %zd, %zd bytes at %zd, overlaps the one before or "
                         "ends past the body's %zd bytes", held, targets[held].len, at[held], self->body.len);
            PyBuffer_Release(&targets[held]);
            goto fail;
        }
        end = at[held] + targets[held].len;
    }
    Py_DECREF(seq);
    seq = NULL;
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    self->targets = targets;
    self->target_at = at;
    self->target_count = n;
    for (Py_ssize_t i = 0; i < self->count; i++) {
        if (self->state[i] == BLOCK_TAKEN) {
            self->state[i] = BLOCK_TAKEN_OWES_COPY; /* its thread copies once it is placed */
        }
        else if (self->state[i] == BLOCK_DONE) {
            copy_now[i] = 1;
        }
    }
    PyThread_release_lock(self->lock);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < self->count; i++) {
        if (copy_now[i]) {
            Py_ssize_t start = i * self->block_size;
            copy_to_targets(self, start, self->body.len - start < self->block_size ? self->body.len - start
                                                                                   : self->block_size);
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(copy_now);
    Py_RETURN_NONE;
fail:
    while (held > 0) {
        PyBuffer_Release(&targets[--held]);
    }
    PyMem_Free(targets);
    PyMem_Free(at);
    PyMem_Free(copy_now);
    Py_XDECREF(seq);
    return NULL;
}

static PyObject *
BlockRun_release(BlockRun *self, PyObject *unused)
{
    (void)unused;
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    Py_ssize_t decoding = self->decoding;
    PyThread_release_lock(self->lock);
    if (decoding > 0) { /* they may still copy into the targets */
        PyErr_Format(PyExc_RuntimeError, "release(): %zd threads are still in decode()", decoding);
        return NULL;
    }
    release_targets(self);
    Py_RETURN_NONE;
}

static PyObject *
BlockRun_failures(BlockRun *self, PyObject *unused)
{
    (void)unused;
    PyObject *result = PyList_New(0);
    for (Py_ssize_t i = 0; result != NULL && i < self->failure_count; i++) {
        BlockFailure *f = &self->failures[i];
        PyObject *item = Py_BuildValue("(niL)", f->number, f->kind, f->value);
        if (item == NULL || PyList_Append(result, item) < 0) {
            Py_XDECREF(item);
            Py_CLEAR(result);
            break;
        }
        Py_DECREF(item);
    }
    return result;
}

static PyMethodDef BlockRun_methods[] = {
    {"decode", (PyCFunction)(void (*)(void))BlockRun_decode, METH_FASTCALL,
     "decode(part, until, /)\n--\n\n"
     "Decode blocks without the GIL: run `part` from its front, then blocks from the back of the runs with\n"
     "the most left. With `until` > 0, return early once this run has placed the body's first `until`\n"
     "bytes in order and every part has started. Returns the bytes this run placed in order."},
    {"copy_out", (PyCFunction)BlockRun_copy_out, METH_O,
     "copy_out(targets, /)\n--\n\n"
     "Fill each (offset, writable buffer) of `targets` (sorted, none overlapping the next) with the body's\n"
     "bytes from `offset`: now for the blocks already placed, and as each later block is placed, by its\n"
     "thread, from cache. Once per run; the buffers are held until release(). ValueError for targets\n"
     "out of order or past the body."},
    {"release", (PyCFunction)BlockRun_release, METH_NOARGS,
     "release()\n--\n\n"
     "Let go of copy_out's buffers, once every decode() has returned (RuntimeError before)."},
    {"failures", (PyCFunction)BlockRun_failures, METH_NOARGS,
     "failures()\n--\n\n"
     "(block, kind, value) of each bad block, in the order threads met them: kind 1 lz4 error at input\n"
     "byte `value`, 2 decompressed to `value` bytes, 3 a table piece that does not fit the block."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot block_run_slots[] = {
    {Py_tp_doc, "BlockRun(decompress, src, starts, body, block_size, table, pieces, stream, parts): the blocks of\n"
                "one BLOCKS chunk, decoded into `body` by `parts` threads without the GIL. `decompress` is the\n"
                "address of liblz4's LZ4_decompress_safe; `starts` the stored offset of each block in `src`,\n"
                "then the end; `pieces` the (first, stop) records of `table` in each block."},
    {Py_tp_new, BlockRun_new},
    {Py_tp_dealloc, BlockRun_dealloc},
    {Py_tp_methods, BlockRun_methods},
    {0, NULL},
};

static PyType_Spec block_run_spec = {
    .name = "sessions._shuffle.BlockRun",
    .basicsize = sizeof(BlockRun),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = block_run_slots,
};

static PyMethodDef methods[] = {
    {"shuffle_into", (PyCFunction)(void (*)(void))shuffle_into, METH_FASTCALL, shuffle_into_doc},
    {"unshuffle_into", (PyCFunction)(void (*)(void))unshuffle_into, METH_FASTCALL, unshuffle_into_doc},
    {"unshuffle_block", (PyCFunction)(void (*)(void))unshuffle_block, METH_FASTCALL, unshuffle_block_doc},
    {"should_stream", (PyCFunction)should_stream, METH_O, should_stream_doc},
    {"block_pieces", (PyCFunction)(void (*)(void))block_pieces, METH_FASTCALL, block_pieces_doc},
    {"_shuffle_into_portable", (PyCFunction)(void (*)(void))shuffle_into_portable, METH_FASTCALL,
     "shuffle_into with the portable loops (for tests)."},
    {"_unshuffle_into_portable", (PyCFunction)(void (*)(void))unshuffle_into_portable, METH_FASTCALL,
     "unshuffle_into with the portable loops (for tests)."},
    {NULL, NULL, 0, NULL},
};

static int
exec_module(PyObject *module)
{
    PyObject *block_run = PyType_FromModuleAndSpec(module, &block_run_spec, NULL);
    if (block_run == NULL || PyModule_AddObject(module, "BlockRun", block_run) < 0) {
        Py_XDECREF(block_run);
        return -1;
    }
    if (PyModule_AddIntConstant(module, "MAX_ITEMSIZE", MAX_ITEMSIZE) < 0) {
        return -1;
    }
    return PyModule_AddIntConstant(module, "SIMD", GSP_SSE2); /* 1: the SSE2 tiles are built in */
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sessions._shuffle",
    .m_doc = "Byte-shuffle filter kernels of .gsplog chunks (the C fast path of sessions.shuffle).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__shuffle(void)
{
    return PyModuleDef_Init(&moduledef);
}
