/* `bench mining`'s reader of a log's bytes, compiled: the loop over traces and events of
 * `gateways.bench.mining._scan_python`, written in C. Same input, same result, same refusals:
 * wherever the Python loop raises `_Odd` this raises the class it is given, and the caller
 * reads the file again with lxml. It only finds positions; what a text or an instant reads as
 * is decided in C only for the plainest forms (UTF-8 without references or line breaks; an
 * instant `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff][Z|+HH:MM|-HH:MM]`), and by the Python functions
 * it is given for everything else. */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_TAGS 8

typedef struct {
    const char *p;
    Py_ssize_t n;
} Span;

typedef struct {
    Span quoted;          /* `"key"` */
    Span tags[MAX_TAGS];  /* `<string key=`, `<date key=`… one of which must stand before it */
    int ntags;
} Key;

typedef struct {
    const char *d;
    PyObject *cases, *texts, *seconds, *text, *odd;
    Py_ssize_t held, unnamed, events, with_key;
} Scan;

static Py_ssize_t find(const char *d, Py_ssize_t lo, Py_ssize_t hi, const char *pat, Py_ssize_t m) {
    if (hi - lo < m) return -1;
    const char *r = memmem(d + lo, (size_t)(hi - lo), pat, (size_t)m);
    return r ? r - d : -1;
}

/* The last occurrence of `pat` lying wholly in [lo, hi). */
static Py_ssize_t rfind(const char *d, Py_ssize_t lo, Py_ssize_t hi, const char *pat, Py_ssize_t m) {
    Py_ssize_t i = hi - m;
    while (i >= lo) {
        const char *r = memrchr(d + lo, pat[0], (size_t)(i - lo + 1));
        if (!r) return -1;
        i = r - d;
        if (memcmp(d + i, pat, (size_t)m) == 0) return i;
        i--;
    }
    return -1;
}

static Py_ssize_t count(const char *d, Py_ssize_t lo, Py_ssize_t hi, const char *pat, Py_ssize_t m) {
    Py_ssize_t n = 0, at;
    while ((at = find(d, lo, hi, pat, m)) >= 0) {
        n++;
        lo = at + m;
    }
    return n;
}

/* The value of the attribute whose quoted key is at `at`: 1 and its span, or 0 where the
 * bytes are not `<tag key="key" value="…"` for one of the key's tags. */
static int attribute(const char *d, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t at, const Key *k, Span *value) {
    int behind = 0;
    for (int t = 0; t < k->ntags && !behind; t++)
        behind = at - lo >= k->tags[t].n && memcmp(d + at - k->tags[t].n, k->tags[t].p, (size_t)k->tags[t].n) == 0;
    if (!behind) return 0;
    Py_ssize_t v = at + k->quoted.n;
    if (hi - v < 8 || memcmp(d + v, " value=\"", 8) != 0) return 0;
    v += 8;
    const char *q = memchr(d + v, '"', (size_t)(hi - v));
    if (!q) return 0;
    value->p = d + v;
    value->n = q - (d + v);
    return 1;
}

/* Between two traces nothing but text and the log's end: 0 where something else stands. */
static int gap(const char *d, Py_ssize_t lo, Py_ssize_t hi) {
    Py_ssize_t at = find(d, lo, hi, "<", 1);
    if (at < 0) return 1;
    return hi - at >= 6 && memcmp(d + at, "</log>", 6) == 0 && find(d, at + 6, hi, "<", 1) < 0;
}

static int digits(const char *s, int n, int64_t *out) {
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The POSIX seconds of an instant in its plainest form (no offset: UTC), computed as Python's
 * `datetime.timestamp()` computes them (whole microseconds over 10**6): 1 and the seconds, or
 * 0 for any other text, which is then left to Python. */
static int plain_seconds(const char *s, Py_ssize_t n, double *out) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0;
    if (n < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return 0;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
        !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
        return 0;
    Py_ssize_t i = 19;
    if (i < n && s[i] == '.') {
        Py_ssize_t k = 0;
        while (i + 1 + k < n && s[i + 1 + k] >= '0' && s[i + 1 + k] <= '9') k++;
        if (k != 3 && k != 6) return 0;
        digits(s + i + 1, (int)k, &frac);
        if (k == 3) frac *= 1000;
        i += 1 + k;
    }
    int sign = 0;
    if (i < n) {
        if (s[i] == 'Z' && i + 1 == n) {
            i++;
        } else if ((s[i] == '+' || s[i] == '-') && n - i == 6 && s[i + 3] == ':') {
            sign = s[i] == '+' ? 1 : -1;
            if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59) return 0;
            i = n;
        } else {
            return 0;
        }
    }
    if (i != n || y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) return 0;
    int64_t whole = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
    int64_t micro = whole * 1000000 + frac;
    if (micro >= ((int64_t)1 << 53) || micro <= -((int64_t)1 << 53)) return 0; /* not exact in a double */
    *out = (double)micro / 1e6;
    return 1;
}

static int plain_text(Span v) {
    for (Py_ssize_t i = 0; i < v.n; i++) {
        char c = v.p[i];
        if (c == '&' || c == '\t' || c == '\n' || c == '\r') return 0;
    }
    return 1;
}

/* A text as XML reads it (new reference). */
static PyObject *text_of(Scan *s, Span v) {
    if (plain_text(v)) return PyUnicode_DecodeUTF8(v.p, v.n, "strict");
    return PyObject_CallFunction(s->text, "y#", v.p, v.n);
}

/* The same, remembered (new reference). */
static PyObject *remembered_text(Scan *s, Span v) {
    PyObject *raw = PyBytes_FromStringAndSize(v.p, v.n);
    if (!raw) return NULL;
    PyObject *value = PyDict_GetItemWithError(s->texts, raw);
    if (value) {
        Py_INCREF(value);
    } else if (!PyErr_Occurred()) {
        value = text_of(s, v);
        if (value) {
            if (PyDict_GET_SIZE(s->texts) >= s->held) PyDict_Clear(s->texts);
            if (PyDict_SetItem(s->texts, raw, value) < 0) Py_CLEAR(value);
        }
    }
    Py_DECREF(raw);
    return value;
}

static int odd(Scan *s) {
    PyErr_SetNone(s->odd);
    return -1;
}

/* One event, the bytes [es, ee) after its `<event`. 0 when read (or left out), -1 on error. */
static int event(Scan *s, Py_ssize_t es, Py_ssize_t ee, const Key *stamp_key, const Key *want, PyObject *trace) {
    const char *d = s->d;
    const char *lt = ee > es ? memrchr(d + es, '<', (size_t)(ee - es)) : NULL;
    Py_ssize_t end = lt ? lt - d : -1;
    if (end < 0 || ee - end < 8 || memcmp(d + end, "</event>", 8) != 0) return odd(s);
    Py_ssize_t at = rfind(d, es, end, stamp_key->quoted.p, stamp_key->quoted.n);
    if (at < 0) return 0;
    Span raw;
    if (!attribute(d, es, ee, at, stamp_key, &raw)) return odd(s);
    double seconds;
    PyObject *stamp;
    if (plain_seconds(raw.p, raw.n, &seconds)) {
        stamp = PyFloat_FromDouble(seconds);
    } else {
        stamp = PyObject_CallFunction(s->seconds, "y#", raw.p, raw.n);
    }
    if (!stamp) return -1;
    if (stamp == Py_None) {
        Py_DECREF(stamp);
        if (find(d, es, at, stamp_key->quoted.p, stamp_key->quoted.n) >= 0) return odd(s);
        return 0;
    }
    PyObject *value = Py_None;
    Py_INCREF(value);
    Py_ssize_t found = rfind(d, es, end, want->quoted.p, want->quoted.n);
    if (found >= 0) {
        Py_DECREF(value);
        if (!attribute(d, es, ee, found, want, &raw)) {
            Py_DECREF(stamp);
            return odd(s);
        }
        if (!(value = remembered_text(s, raw))) {
            Py_DECREF(stamp);
            return -1;
        }
        s->with_key++;
    }
    if (find(d, es, found > at ? found : at, "\">", 2) >= 0) {
        Py_ssize_t places[2] = {at, found};
        for (int p = 0; p < (found >= 0 ? 2 : 1); p++) {
            Py_ssize_t opened = count(d, es, places[p], "\">", 2) + count(d, es, places[p], "<values", 7);
            if (opened != count(d, es, places[p], "</", 2)) {
                Py_DECREF(stamp);
                Py_DECREF(value);
                return odd(s);
            }
        }
    }
    s->events++;
    PyObject *order = PyLong_FromSsize_t(s->events);
    PyObject *row = order ? PyTuple_Pack(3, stamp, order, value) : NULL;
    Py_XDECREF(order);
    Py_DECREF(stamp);
    Py_DECREF(value);
    if (!row) return -1;
    int failed = PyList_Append(trace, row);
    Py_DECREF(row);
    return failed;
}

/* One trace, the bytes [ps, pe) after its `<trace` up to the next one. */
static int trace(Scan *s, Py_ssize_t ps, Py_ssize_t pe, const Key *stamp_key, const Key *name, const Key *want) {
    const char *d = s->d;
    Py_ssize_t end = rfind(d, ps, pe, "</trace>", 8);
    if (end < 0 || pe == ps || d[ps] != '>' || !gap(d, end + 8, pe)) return odd(s);
    Py_ssize_t e = find(d, ps, end, "<event", 6);
    Py_ssize_t he = e < 0 ? end : e;
    if (find(d, ps, he, "</", 2) >= 0) return odd(s); /* a nested attribute, a prefixed event */
    PyObject *case_id;
    Py_ssize_t at = rfind(d, ps, he, name->quoted.p, name->quoted.n);
    if (at >= 0) {
        Span raw;
        if (!attribute(d, ps, he, at, name, &raw)) return odd(s);
        case_id = text_of(s, raw);
    } else {
        s->unnamed++;
        case_id = PyUnicode_FromFormat("%c%zd", 0, s->unnamed);
    }
    if (!case_id) return -1;
    PyObject *empty = PyList_New(0);
    PyObject *events = empty ? PyDict_SetDefault(s->cases, case_id, empty) : NULL;
    Py_DECREF(case_id);
    Py_XDECREF(empty);
    if (!events) return -1;
    Py_INCREF(events);
    int failed = 0;
    while (e >= 0 && !failed) {
        Py_ssize_t next = find(d, e + 6, end, "<event", 6);
        failed = event(s, e + 6, next < 0 ? end : next, stamp_key, want, events);
        e = next;
    }
    Py_DECREF(events);
    return failed;
}

static int key_of(PyObject *quoted, PyObject *tags, Key *k) {
    if (!PyBytes_Check(quoted) || !PyTuple_Check(tags) || PyTuple_GET_SIZE(tags) > MAX_TAGS ||
        PyBytes_GET_SIZE(quoted) < 1) {
        PyErr_SetString(PyExc_TypeError, "a key is (bytes, tuple of at most 8 bytes)");
        return -1;
    }
    k->quoted.p = PyBytes_AS_STRING(quoted);
    k->quoted.n = PyBytes_GET_SIZE(quoted);
    k->ntags = (int)PyTuple_GET_SIZE(tags);
    for (int t = 0; t < k->ntags; t++) {
        PyObject *tag = PyTuple_GET_ITEM(tags, t);
        if (!PyBytes_Check(tag)) {
            PyErr_SetString(PyExc_TypeError, "a key's tags are bytes");
            return -1;
        }
        k->tags[t].p = PyBytes_AS_STRING(tag);
        k->tags[t].n = PyBytes_GET_SIZE(tag);
    }
    return 0;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer chunk;
    Py_ssize_t start;
    PyObject *sq, *stags, *nq, *ntags, *wq, *wtags;
    Scan s;
    if (!PyArg_ParseTuple(args, "y*n(OOOOOO)O!O!nOOO(nnn)", &chunk, &start, &sq, &stags, &nq, &ntags, &wq, &wtags,
                          &PyDict_Type, &s.cases, &PyDict_Type, &s.texts, &s.held, &s.seconds, &s.text, &s.odd,
                          &s.unnamed, &s.events, &s.with_key))
        return NULL;
    Key stamp_key, name, want;
    PyObject *result = NULL;
    if (key_of(sq, stags, &stamp_key) < 0 || key_of(nq, ntags, &name) < 0 || key_of(wq, wtags, &want) < 0) goto done;
    if (start < 0 || start > chunk.len) {
        PyErr_SetString(PyExc_ValueError, "start lies outside the chunk");
        goto done;
    }
    s.d = chunk.buf;
    Py_ssize_t n = chunk.len;
    Py_ssize_t t = find(s.d, start, n, "<trace", 6);
    if (!gap(s.d, start, t < 0 ? n : t)) {
        odd(&s);
        goto done;
    }
    while (t >= 0) {
        Py_ssize_t next = find(s.d, t + 6, n, "<trace", 6);
        if (trace(&s, t + 6, next < 0 ? n : next, &stamp_key, &name, &want) < 0) goto done;
        t = next;
    }
    result = Py_BuildValue("(nnn)", s.unnamed, s.events, s.with_key);
done:
    PyBuffer_Release(&chunk);
    return result;
}

/* For tests: what the C reading of an instant gives, None where it leaves the text to Python. */
static PyObject *plain_instant(PyObject *self, PyObject *arg) {
    char *p;
    Py_ssize_t n;
    double seconds;
    if (PyBytes_AsStringAndSize(arg, &p, &n) < 0) return NULL;
    if (plain_seconds(p, n, &seconds)) return PyFloat_FromDouble(seconds);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(chunk, start, keys, cases, texts, held, seconds, text, odd, counts) -> counts"},
    {"plain_instant", plain_instant, METH_O, "plain_instant(raw) -> seconds or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
