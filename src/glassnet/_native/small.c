/* Kernels for small float32 arrays, called from Python as Python functions.
 *
 * A NumPy call costs about 0.3-1 µs before it does any work, and a ctypes
 * call several µs (each array's address is a Python object to make), so for
 * W1's arrays (32 x 32 hidden units, 32 x 10 logits) a compiled loop only
 * pays when it is called without either: these functions are written against
 * Python's C API (METH_FASTCALL; arrays through the buffer protocol, which
 * NumPy answers in ~30 ns), and glassnet.kernels.variants.small registers
 * them as variants of the NumPy references for float32 C-contiguous arrays
 * below SMALL_MAX numbers. One call replaces 4-8 NumPy calls.
 *
 * The formulas are the references' (glassnet/kernels) and common.h's:
 * σ is gn_sigmoidf, e^x gn_expf, log the C library's logf, so sigmoid and the
 * cross-entropy agree with NumPy to rounding; the backward passes and SGD do
 * the references' arithmetic in their order and give their bits (SGD is
 * optim.c's loop, flushing subnormal results to 0 as it does).
 *
 * Python gets the functions from gn_small_functions() (a dict), called through
 * ctypes with the GIL held. The arguments' dtypes, sizes and layouts are
 * checked in Python before a call (variants/small.py); here every buffer is
 * asked for as C-contiguous, so a wrong one raises BufferError, never reads
 * out of bounds, and the sizes are checked again against each other.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "optim.c" /* gn_sgd_f32: one SGD rule for every caller */

/* Buffers held for one call, released together. */
typedef struct {
    Py_buffer b[6];
    int n;
} gn_held;

static void *gn_get(gn_held *h, PyObject *o, int writable, Py_ssize_t items, Py_ssize_t size) {
    Py_buffer *v = &h->b[h->n];
    if (PyObject_GetBuffer(o, v, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)))
        return NULL;
    h->n++;
    if (v->len != items * size) {
        PyErr_Format(PyExc_ValueError, "small kernel: a buffer of %zd bytes, expected %zd",
                     v->len, items * size);
        return NULL;
    }
    return v->buf;
}

static PyObject *gn_done(gn_held *h, PyObject *result) {
    for (int i = 0; i < h->n; i++) PyBuffer_Release(&h->b[i]);
    return result;
}

static int gn_count(PyObject *o, Py_ssize_t *n) {
    *n = PyLong_AsSsize_t(o);
    return *n < 0 && PyErr_Occurred();
}

/* sigmoid(x, out, n) */
static PyObject *py_sigmoid(PyObject *self, PyObject *const *a, Py_ssize_t na) {
    gn_held h = {.n = 0};
    Py_ssize_t n;
    if (na != 3 || gn_count(a[2], &n)) return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "sigmoid(x, out, n)");
    const float *x = gn_get(&h, a[0], 0, n, 4);
    float *y = x ? gn_get(&h, a[1], 1, n, 4) : NULL;
    if (y && (const float *)y == x) /* in place (predict's stack): no restrict */
        for (Py_ssize_t i = 0; i < n; i++) y[i] = gn_sigmoidf(y[i]);
    else if (y)
        gn_sigmoid_fwd(x, y, n);
    return gn_done(&h, y ? Py_NewRef(Py_None) : NULL);
}

/* sigmoid_backward(g, s, out, n) */
static PyObject *py_sigmoid_backward(PyObject *self, PyObject *const *a, Py_ssize_t na) {
    gn_held h = {.n = 0};
    Py_ssize_t n;
    if (na != 4 || gn_count(a[3], &n)) return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "sigmoid_backward(g, s, out, n)");
    const float *g = gn_get(&h, a[0], 0, n, 4);
    const float *s = g ? gn_get(&h, a[1], 0, n, 4) : NULL;
    float *out = s ? gn_get(&h, a[2], 1, n, 4) : NULL;
    if (out) gn_sigmoid_bwd(g, s, out, n);
    return gn_done(&h, out ? Py_NewRef(Py_None) : NULL);
}

/* cross_entropy(z, labels, losses, e, total, flat, rows, classes) -> -1, or the
 * row of the first label outside [0, classes) (then nothing is written). */
static PyObject *py_cross_entropy(PyObject *self, PyObject *const *a, Py_ssize_t na) {
    gn_held h = {.n = 0};
    Py_ssize_t m, c;
    if (na != 8 || gn_count(a[6], &m) || gn_count(a[7], &c) || c < 1)
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "cross_entropy(z, labels, losses, e, total, flat, rows, classes)");
    const float *z = gn_get(&h, a[0], 0, m * c, 4);
    const int64_t *labels = z ? gn_get(&h, a[1], 0, m, 8) : NULL;
    float *losses = labels ? gn_get(&h, a[2], 1, m, 4) : NULL;
    float *e = losses ? gn_get(&h, a[3], 1, m * c, 4) : NULL;
    float *total = e ? gn_get(&h, a[4], 1, m, 4) : NULL;
    int64_t *flat = total ? gn_get(&h, a[5], 1, m, 8) : NULL;
    if (!flat) return gn_done(&h, NULL);
    for (Py_ssize_t i = 0; i < m; i++)
        if ((uint64_t)labels[i] >= (uint64_t)c) return gn_done(&h, PyLong_FromSsize_t(i));
    /* top goes into losses, then loss_i = log total_i − (z_iy − top_i) */
    gn_softmax_rows(z, e, losses, total, m, c);
    for (Py_ssize_t i = 0; i < m; i++) {
        flat[i] = i * c + labels[i];
        losses[i] = logf(total[i]) - (z[flat[i]] - losses[i]);
    }
    return gn_done(&h, PyLong_FromSsize_t(-1));
}

/* cross_entropy_backward(e, total, flat, dl, out, rows, classes, dl_rows):
 * out = e · (dl / total) by rows, then dl taken from each row's label. */
static PyObject *py_cross_entropy_backward(PyObject *self, PyObject *const *a, Py_ssize_t na) {
    gn_held h = {.n = 0};
    Py_ssize_t m, c, k;
    if (na != 8 || gn_count(a[5], &m) || gn_count(a[6], &c) || gn_count(a[7], &k) ||
        (k != 1 && k != m))
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "cross_entropy_backward(e, total, flat, dl, out, rows, classes, dl_rows)");
    const float *e = gn_get(&h, a[0], 0, m * c, 4);
    const float *total = e ? gn_get(&h, a[1], 0, m, 4) : NULL;
    const int64_t *flat = total ? gn_get(&h, a[2], 0, m, 8) : NULL;
    const float *dl = flat ? gn_get(&h, a[3], 0, k, 4) : NULL;
    float *out = dl ? gn_get(&h, a[4], 1, m * c, 4) : NULL;
    if (!out) return gn_done(&h, NULL);
    for (Py_ssize_t i = 0; i < m; i++)
        if ((uint64_t)flat[i] >= (uint64_t)(m * c)) {
            PyErr_SetString(PyExc_IndexError, "cross_entropy_backward: flat index out of range");
            return gn_done(&h, NULL);
        }
    for (Py_ssize_t i = 0; i < m; i++) {
        const float d = dl[k == 1 ? 0 : i], factor = d / total[i];
        const float *restrict ei = e + i * c;
        float *restrict oi = out + i * c;
        for (Py_ssize_t j = 0; j < c; j++) oi[j] = ei[j] * factor;
    }
    for (Py_ssize_t i = 0; i < m; i++) out[flat[i]] -= dl[k == 1 ? 0 : i];
    return gn_done(&h, Py_NewRef(Py_None));
}

/* sgd(data, grad, buf, n, lr, momentum, decay, nesterov): optim.c's rule on
 * one thread; buf is data itself when there is no momentum buffer. */
static PyObject *py_sgd(PyObject *self, PyObject *const *a, Py_ssize_t na) {
    gn_held h = {.n = 0};
    Py_ssize_t n;
    if (na != 8 || gn_count(a[3], &n))
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "sgd(data, grad, buf, n, lr, momentum, decay, nesterov)");
    const double lr = PyFloat_AsDouble(a[4]), momentum = PyFloat_AsDouble(a[5]),
                 decay = PyFloat_AsDouble(a[6]);
    const int nesterov = PyObject_IsTrue(a[7]);
    if (PyErr_Occurred()) return NULL;
    float *data = gn_get(&h, a[0], 1, n, 4);
    const float *grad = data ? gn_get(&h, a[1], 0, n, 4) : NULL;
    float *buf = grad ? (a[2] == a[0] ? data : gn_get(&h, a[2], 1, n, 4)) : NULL;
    if (buf) gn_sgd_f32(data, grad, buf, n, lr, momentum, decay, nesterov, 1);
    return gn_done(&h, buf ? Py_NewRef(Py_None) : NULL);
}

/* sgd_foreach(data, grad, buf, lr, momentum, decay, nesterov): sgd on each
 * array of the lists (buf None: no momentum buffers) -> 0; or 1, with nothing
 * changed, when an array is not float32 and C-contiguous, partners differ in
 * size, the lists hold more than `limit` numbers in all, or momentum comes
 * without buffers (another variant, or the reference, then takes them). */
static PyObject *py_sgd_foreach(PyObject *self, PyObject *const *a, Py_ssize_t na) {
    Py_ssize_t limit;
    if (na != 8 || !PyList_Check(a[0]) || !PyList_Check(a[1]) ||
        (a[2] != Py_None && !PyList_Check(a[2])) || gn_count(a[7], &limit))
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "sgd_foreach(data, grad, buf, lr, momentum, decay, nesterov, limit)");
    const double lr = PyFloat_AsDouble(a[3]), momentum = PyFloat_AsDouble(a[4]),
                 decay = PyFloat_AsDouble(a[5]);
    const int nesterov = PyObject_IsTrue(a[6]);
    if (PyErr_Occurred()) return NULL;
    const int lists = a[2] == Py_None ? 2 : 3;
    if (lists == 2 && momentum != 0) return PyLong_FromLong(1); /* the reference says why */
    const Py_ssize_t count = PyList_GET_SIZE(a[0]);
    if (PyList_GET_SIZE(a[1]) != count || (lists == 3 && PyList_GET_SIZE(a[2]) != count))
        return PyLong_FromLong(1);
    Py_buffer *v = PyMem_Calloc((size_t)(count * lists) + 1, sizeof(Py_buffer));
    if (!v) return PyErr_NoMemory();
    Py_ssize_t held = 0, total = 0;
    int fits = 1;
    for (Py_ssize_t k = 0; k < count && fits; k++)
        for (int l = 0; l < lists && fits; l++) {
            PyObject *o = PyList_GET_ITEM(a[l], k);
            const int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (l != 1 ? PyBUF_WRITABLE : 0);
            if (PyObject_GetBuffer(o, &v[held], flags)) {
                PyErr_Clear();
                fits = 0;
                break;
            }
            Py_buffer *b = &v[held++];
            fits = b->itemsize == 4 && b->format && strcmp(b->format, "f") == 0 &&
                   b->len == v[k * lists].len;
            if (l == 0) total += b->len / 4;
        }
    fits = fits && total <= limit;
    if (fits)
        for (Py_ssize_t k = 0; k < count; k++) {
            Py_buffer *b = &v[k * lists];
            gn_sgd_f32(b[0].buf, b[1].buf, lists == 3 ? b[2].buf : b[0].buf, b[0].len / 4,
                       lr, momentum, decay, nesterov, 1);
        }
    for (Py_ssize_t i = 0; i < held; i++) PyBuffer_Release(&v[i]);
    PyMem_Free(v);
    return PyLong_FromLong(fits ? 0 : 1);
}

#define GN_FN(name) {#name, (PyCFunction)(void (*)(void))py_##name, METH_FASTCALL, NULL}
static PyMethodDef gn_small_methods[] = {
    GN_FN(sigmoid),       GN_FN(sigmoid_backward), GN_FN(cross_entropy),
    GN_FN(cross_entropy_backward), GN_FN(sgd), GN_FN(sgd_foreach), {NULL, NULL, 0, NULL}};

/* The functions above, by name, as a new dict (called with the GIL held). */
PyObject *gn_small_functions(void) {
    PyObject *d = PyDict_New();
    for (PyMethodDef *m = gn_small_methods; d && m->ml_name; m++) {
        PyObject *f = PyCFunction_New(m, NULL);
        if (!f || PyDict_SetItemString(d, m->ml_name, f)) {
            Py_XDECREF(f);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(f);
    }
    return d;
}
