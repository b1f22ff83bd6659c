/* The typed read of an XES log (`XesLog.traces` in gateways/interchange/xes.py), compiled.
 *
 * A `Reader` walks the bytes of a log one element of the log at a time and builds each trace
 * as the lxml reader of xes.py does: every attribute a typed value dict (type, value, nested
 * children) in the order written, the same problems counted in the same order. The values the
 * schema writes plainly are decided here (a string, an id, a 64-bit integer in decimal digits,
 * a decimal float, true/false/1/0, an xs:dateTime in its common form); for any other text the
 * Python function `_scalar` is called, so both readers give one answer whatever the text.
 *
 * What this code does not read it hands back rather than guesses:
 * - inside a trace (a prefixed element name, an entity other than the five XML predefines, a
 *   byte sequence that is not UTF-8…): the trace's bytes, for lxml to read alone;
 * - in the prolog (a DOCTYPE, an encoding other than UTF-8, no UTF-8 at all) or between
 *   traces (a prefixed element, a truncated file): the exception `Odd`, and the caller reads
 *   the file with lxml.
 *
 * The caller hands over the bytes read so far and where to resume; `next` answers with the
 * next trace, or asks for more bytes when the buffer ends inside one (a trace is read whole or
 * not at all: the problems it counts go to scratch counters merged only once it is complete).
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define RD_OK 0
#define RD_ERR (-1)  /* a Python exception is set */
#define RD_MORE (-2) /* the bytes end before the element does */
#define RD_ODD (-3)  /* a form left to lxml */

enum {
    K_OTHER = 0,
    K_STRING,
    K_DATE,
    K_INT,
    K_FLOAT,
    K_BOOLEAN,
    K_ID,
    K_LIST,
    K_CONTAINER,
    K_EVENT,
    K_TRACE,
    K_VALUES,
};
#define N_TYPES (K_CONTAINER + 1)
#define IS_ATTRIBUTE(k) ((k) >= K_STRING && (k) <= K_CONTAINER)

/* What `next` answers (the first item of its tuple). */
#define A_TRACE 0
#define A_ODD_TRACE 1
#define A_END 2
#define A_MORE 3

#define CACHE_SLOTS 4096 /* texts remembered (keys, strings): a direct-mapped table */
#define CACHE_LEN 48     /* longer texts are not remembered */

typedef struct {
    uint32_t hash;
    int name; /* the text is an XML name (ASCII): no key check needed */
    Py_ssize_t n;
    char bytes[CACHE_LEN];
    PyObject *text;
} Slot;

/* Bytes by what they mean in an attribute's value (SPECIAL: a reference, a character XML
 * normalizes, `<`; HIGH: not ASCII) and in an XML name (NAME_START, NAME_REST). */
#define SPECIAL 1
#define HIGH 2
#define NAME_START 4
#define NAME_REST 8
static unsigned char BYTES[256];

static void bytes_init(void) {
    for (int c = 0; c < 256; c++) {
        unsigned char f = c >= 0x80 ? HIGH : 0;
        if (c == '&' || c == '\t' || c == '\n' || c == '\r' || c == '<') f |= SPECIAL;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':') f |= NAME_START | NAME_REST;
        if ((c >= '0' && c <= '9') || c == '-' || c == '.') f |= NAME_REST;
        BYTES[c] = f;
    }
}

/* ASCII bytes that make an XML name (what `_check_name` would not count). */
static int ascii_name(const char *p, Py_ssize_t n) {
    if (n == 0 || !(BYTES[(unsigned char)p[0]] & NAME_START)) return 0;
    for (Py_ssize_t i = 1; i < n; i++)
        if (!(BYTES[(unsigned char)p[i]] & NAME_REST)) return 0;
    return 1;
}

/* A hash of a short text for the table of texts: its length, first and last eight bytes (a
 * collision costs a decoding, never a wrong text: the bytes are compared). */
static uint32_t quick_hash(const char *p, Py_ssize_t n) {
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, p + n - 8, 8);
    } else if (n > 0) {
        memcpy(&a, p, (size_t)n);
    }
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ b * 0xC2B2AE3D27D4EB4Full ^ (uint64_t)n * 0x165667B19E3779F9ull;
    h ^= h >> 32;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

typedef struct {
    Py_ssize_t after; /* the offset after the tag's `>` */
    const char *name;
    Py_ssize_t name_n;
    int kind, prefixed, empty;
    const char *key, *value; /* NULL: not written */
    Py_ssize_t key_n, value_n;
} Tag;

static PyObject *Odd; /* the exception: read this file with lxml */

typedef struct {
    PyObject_HEAD
    /* given: the log's problems and attributes, the scratch ones, the Python helpers */
    PyObject *problems, *attributes, *header, *s_header, *s_events, *s_trace;
    PyObject *scalar, *check_name, *names;
    PyObject *no_key, *no_value, *unknown, *too_deep;
    int max_depth;
    /* made here */
    PyObject *types[N_TYPES], *templates[N_TYPES]; /* "string"…; {"type": "string", "value": None}… */
    PyObject *k_type, *k_value, *k_children, *k_key, *empty;
    Slot *cache;
    /* the state of the read */
    PyObject *cur; /* borrowed: the scratch counter problems go to */
    int in_root, seen;
    Py_ssize_t stray;
    char *root;
    Py_ssize_t root_n;
    /* the bytes of the current call */
    const char *d;
    Py_ssize_t n;
} Reader;

static inline int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static Py_ssize_t find(const Reader *r, Py_ssize_t from, const char *pat, Py_ssize_t m) {
    if (from < 0 || r->n - from < m) return -1;
    const char *q = memmem(r->d + from, (size_t)(r->n - from), pat, (size_t)m);
    return q ? q - r->d : -1;
}

static int kind_of(const char *p, Py_ssize_t n) {
    switch (n) {
    case 2:
        return memcmp(p, "id", 2) == 0 ? K_ID : K_OTHER;
    case 3:
        return memcmp(p, "int", 3) == 0 ? K_INT : K_OTHER;
    case 4:
        if (memcmp(p, "date", 4) == 0) return K_DATE;
        return memcmp(p, "list", 4) == 0 ? K_LIST : K_OTHER;
    case 5:
        if (memcmp(p, "event", 5) == 0) return K_EVENT;
        if (memcmp(p, "trace", 5) == 0) return K_TRACE;
        return memcmp(p, "float", 5) == 0 ? K_FLOAT : K_OTHER;
    case 6:
        if (memcmp(p, "string", 6) == 0) return K_STRING;
        return memcmp(p, "values", 6) == 0 ? K_VALUES : K_OTHER;
    case 7:
        return memcmp(p, "boolean", 7) == 0 ? K_BOOLEAN : K_OTHER;
    case 9:
        return memcmp(p, "container", 9) == 0 ? K_CONTAINER : K_OTHER;
    default:
        return K_OTHER;
    }
}

/* ---- the bytes: tags, and what lies between them ---------------------------------------- */

/* From `i`, past text, comments, processing instructions and CDATA sections, to the `<` of the
 * next start or end tag. */
static int next_tag(const Reader *r, Py_ssize_t i, Py_ssize_t *lt) {
    const char *d = r->d;
    Py_ssize_t n = r->n;
    for (;;) {
        if (i >= n) return RD_MORE;
        const char *q = memchr(d + i, '<', (size_t)(n - i));
        if (!q) return RD_MORE;
        Py_ssize_t j = q - d, e;
        if (n - j < 2) return RD_MORE;
        if (d[j + 1] == '?') {
            if ((e = find(r, j + 2, "?>", 2)) < 0) return RD_MORE;
            i = e + 2;
        } else if (d[j + 1] == '!') {
            if (n - j < 4) return RD_MORE;
            if (d[j + 2] == '-' && d[j + 3] == '-') {
                if ((e = find(r, j + 4, "-->", 3)) < 0) return RD_MORE;
                i = e + 3;
            } else {
                if (n - j < 9) return RD_MORE;
                if (memcmp(d + j, "<![CDATA[", 9) != 0) return RD_ODD; /* a declaration: not here */
                if ((e = find(r, j + 9, "]]>", 3)) < 0) return RD_MORE;
                i = e + 3;
            }
        } else {
            *lt = j;
            return RD_OK;
        }
    }
}

/* The start tag at `at` (a `<` followed by neither `/`, `!` nor `?`): its name and the two
 * attributes XES reads, `key` and `value` (unprefixed, as lxml's `get` finds them). */
static int start_tag(const Reader *r, Py_ssize_t at, Tag *t) {
    const char *d = r->d;
    Py_ssize_t n = r->n, i = at + 1;
    while (i < n && !is_ws(d[i]) && d[i] != '/' && d[i] != '>') i++;
    if (i >= n) return RD_MORE;
    t->name = d + at + 1;
    t->name_n = i - at - 1;
    if (t->name_n == 0) return RD_ODD;
    t->prefixed = memchr(t->name, ':', (size_t)t->name_n) != NULL;
    t->kind = kind_of(t->name, t->name_n);
    t->key = t->value = NULL;
    t->key_n = t->value_n = 0;
    for (;;) {
        while (i < n && is_ws(d[i])) i++;
        if (i >= n) return RD_MORE;
        if (d[i] == '>') {
            t->empty = 0;
            t->after = i + 1;
            return RD_OK;
        }
        if (d[i] == '/') {
            if (i + 1 >= n) return RD_MORE;
            if (d[i + 1] != '>') return RD_ODD;
            t->empty = 1;
            t->after = i + 2;
            return RD_OK;
        }
        Py_ssize_t s = i;
        while (i < n && !is_ws(d[i]) && d[i] != '=' && d[i] != '>' && d[i] != '/') i++;
        if (i >= n) return RD_MORE;
        Py_ssize_t an = i - s;
        if (an == 0) return RD_ODD;
        while (i < n && is_ws(d[i])) i++;
        if (i >= n) return RD_MORE;
        if (d[i] != '=') return RD_ODD;
        i++;
        while (i < n && is_ws(d[i])) i++;
        if (i >= n) return RD_MORE;
        char quote = d[i];
        if (quote != '"' && quote != '\'') return RD_ODD;
        const char *q = i + 1 < n ? memchr(d + i + 1, quote, (size_t)(n - i - 1)) : NULL;
        if (!q) return RD_MORE;
        const char *v = d + i + 1;
        if (an == 3 && memcmp(d + s, "key", 3) == 0) {
            if (t->key) return RD_ODD;
            t->key = v;
            t->key_n = q - v;
        } else if (an == 5 && memcmp(d + s, "value", 5) == 0) {
            if (t->value) return RD_ODD;
            t->value = v;
            t->value_n = q - v;
        }
        i = q - d + 1;
    }
}

/* The end tag at `at` (`</`), which must close `name`. */
static int end_tag(const Reader *r, Py_ssize_t at, const char *name, Py_ssize_t name_n, Py_ssize_t *after) {
    const char *d = r->d;
    Py_ssize_t n = r->n, i = at + 2;
    if (n - i < name_n + 1) return RD_MORE;
    if (memcmp(d + i, name, (size_t)name_n) != 0) return RD_ODD;
    i += name_n;
    while (i < n && is_ws(d[i])) i++;
    if (i >= n) return RD_MORE;
    if (d[i] != '>') return RD_ODD;
    *after = i + 1;
    return RD_OK;
}

/* Past the element whose start tag is `t`, whatever it holds. */
static int skip(const Reader *r, const Tag *t, Py_ssize_t *after) {
    if (t->empty) {
        *after = t->after;
        return RD_OK;
    }
    Py_ssize_t i = t->after, lt;
    Py_ssize_t depth = 1;
    for (;;) {
        int rc = next_tag(r, i, &lt);
        if (rc) return rc;
        if (r->d[lt + 1] == '/') {
            const char *q = memchr(r->d + lt, '>', (size_t)(r->n - lt));
            if (!q) return RD_MORE;
            i = q - r->d + 1;
            if (--depth == 0) {
                *after = i;
                return RD_OK;
            }
        } else {
            Tag c;
            rc = start_tag(r, lt, &c);
            if (rc) return rc;
            i = c.after;
            depth += !c.empty;
        }
    }
}

/* ---- texts ------------------------------------------------------------------------------- */

static int xml_char(uint32_t c) {
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
           (c >= 0x10000 && c <= 0x10FFFF);
}

static Py_ssize_t utf8(uint32_t c, char *out) {
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* UTF-8 bytes as a str: RD_ODD where they are not UTF-8 (lxml then says what is wrong). */
static int decoded(const char *p, Py_ssize_t n, int ascii, PyObject **out) {
    if (ascii) {
        PyObject *s = PyUnicode_New(n, 127);
        if (!s) return RD_ERR;
        memcpy(PyUnicode_1BYTE_DATA(s), p, (size_t)n);
        *out = s;
        return RD_OK;
    }
    *out = PyUnicode_DecodeUTF8(p, n, "strict");
    if (*out) return RD_OK;
    if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        return RD_ODD;
    }
    return RD_ERR;
}

/* An attribute's value (the bytes between its quotes) as XML reads it: the five predefined
 * entities and character references replaced, each literal tab, line feed, carriage return or
 * CR LF pair a space. Any other entity: RD_ODD. */
static int normalized(const char *p, Py_ssize_t n, PyObject **out) {
    char *b = PyMem_Malloc((size_t)(n ? n : 1));
    if (!b) {
        PyErr_NoMemory();
        return RD_ERR;
    }
    Py_ssize_t m = 0, i = 0;
    int rc = RD_OK;
    while (i < n && rc == RD_OK) {
        char c = p[i];
        if (c == '\r') {
            b[m++] = ' ';
            i += (i + 1 < n && p[i + 1] == '\n') ? 2 : 1;
        } else if (c == '\t' || c == '\n') {
            b[m++] = ' ';
            i++;
        } else if (c == '<') {
            rc = RD_ODD;
        } else if (c != '&') {
            b[m++] = c;
            i++;
        } else {
            const char *semi = memchr(p + i, ';', (size_t)(n - i));
            if (!semi) {
                rc = RD_ODD;
                break;
            }
            const char *ref = p + i + 1;
            Py_ssize_t rn = semi - ref;
            if (rn == 2 && memcmp(ref, "lt", 2) == 0) {
                b[m++] = '<';
            } else if (rn == 2 && memcmp(ref, "gt", 2) == 0) {
                b[m++] = '>';
            } else if (rn == 3 && memcmp(ref, "amp", 3) == 0) {
                b[m++] = '&';
            } else if (rn == 4 && memcmp(ref, "quot", 4) == 0) {
                b[m++] = '"';
            } else if (rn == 4 && memcmp(ref, "apos", 4) == 0) {
                b[m++] = '\'';
            } else if (rn >= 2 && ref[0] == '#') {
                int hex = ref[1] == 'x';
                Py_ssize_t k = hex ? 2 : 1;
                if (rn - k < 1 || rn - k > 8) {
                    rc = RD_ODD;
                    break;
                }
                uint32_t code = 0;
                for (; k < rn; k++) {
                    char h = ref[k];
                    int digit = h >= '0' && h <= '9'                ? h - '0'
                                : hex && h >= 'a' && h <= 'f'       ? h - 'a' + 10
                                : hex && h >= 'A' && h <= 'F'       ? h - 'A' + 10
                                                                    : -1;
                    if (digit < 0) break;
                    code = code * (hex ? 16 : 10) + (uint32_t)digit;
                }
                if (k != rn || !xml_char(code)) {
                    rc = RD_ODD;
                    break;
                }
                m += utf8(code, b + m); /* at most 4 bytes for at least 4 read (`&#9;`) */
            } else {
                rc = RD_ODD; /* an entity a DTD would declare: lxml's to read */
                break;
            }
            i = semi - p + 1;
        }
    }
    if (rc == RD_OK) rc = decoded(b, m, 0, out);
    PyMem_Free(b);
    return rc;
}

/* The value of an attribute of the tag (its bytes `p`, `n`) as a str; remembered when short
 * (`remember`: keys and strings, which repeat). `name` (where not NULL): 1 where the text is
 * known to be an XML name, 0 where it is to be checked. */
static int text(Reader *r, const char *p, Py_ssize_t n, int remember, PyObject **out, int *name) {
    unsigned char seen = 0;
    for (Py_ssize_t i = 0; i < n; i++) seen |= BYTES[(unsigned char)p[i]];
    if (name) *name = 0;
    if (seen & SPECIAL) return normalized(p, n, out);
    if (!remember || n > CACHE_LEN) return decoded(p, n, !(seen & HIGH), out);
    uint32_t hash = quick_hash(p, n);
    Slot *slot = &r->cache[hash & (CACHE_SLOTS - 1)];
    if (slot->text && slot->hash == hash && slot->n == n && memcmp(slot->bytes, p, (size_t)n) == 0) {
        Py_INCREF(slot->text);
        *out = slot->text;
        if (name) *name = slot->name;
        return RD_OK;
    }
    int rc = decoded(p, n, !(seen & HIGH), out);
    if (rc) return rc;
    Py_XSETREF(slot->text, Py_NewRef(*out));
    slot->hash = hash;
    slot->n = n;
    slot->name = !(seen & HIGH) && ascii_name(p, n);
    memcpy(slot->bytes, p, (size_t)n);
    if (name) *name = slot->name;
    return RD_OK;
}

/* ---- problems ---------------------------------------------------------------------------- */

static int add(PyObject *counter, PyObject *reason, PyObject *times) {
    PyObject *had = PyDict_GetItemWithError(counter, reason);
    if (!had && PyErr_Occurred()) return -1;
    PyObject *sum = had ? PyNumber_Add(had, times) : Py_NewRef(times);
    if (!sum) return -1;
    int failed = PyDict_SetItem(counter, reason, sum);
    Py_DECREF(sum);
    return failed;
}

static int count(Reader *r, PyObject *reason) {
    PyObject *one = PyLong_FromLong(1);
    if (!one) return -1;
    int failed = add(r->cur, reason, one);
    Py_DECREF(one);
    return failed;
}

/* `src`'s counts added to `dst`'s in `src`'s order (as if counted there), then `src` emptied. */
static int merge(PyObject *dst, PyObject *src) {
    Py_ssize_t at = 0;
    PyObject *reason, *times;
    while (PyDict_Next(src, &at, &reason, &times))
        if (add(dst, reason, times) < 0) return -1;
    PyDict_Clear(src);
    return 0;
}

/* A key counted (by Python's `_check_name`) when it is no XML name; the ASCII names decided here. */
static int check_name(Reader *r, PyObject *key) {
    if (PyUnicode_IS_ASCII(key) && ascii_name((const char *)PyUnicode_1BYTE_DATA(key), PyUnicode_GET_LENGTH(key)))
        return 0;
    int known = PySet_Contains(r->names, key);
    if (known) return known < 0 ? -1 : 0;
    PyObject *done = PyObject_CallFunctionObjArgs(r->check_name, key, r->cur, NULL);
    Py_XDECREF(done);
    return done ? 0 : -1;
}

/* ---- values ------------------------------------------------------------------------------ */

static int digits_only(const Py_UCS1 *p, Py_ssize_t n) {
    if (n == 0) return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    return 1;
}

static int two(const Py_UCS1 *p, int *v) {
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') return 0;
    *v = (p[0] - '0') * 10 + (p[1] - '0');
    return 1;
}

/* `YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z|±HH:MM]`, a day that exists: what both `datetime.fromisoformat`
 * reads and the schema's xs:dateTime pattern matches, so `_scalar` keeps it as written. */
static int plain_date(const Py_UCS1 *s, Py_ssize_t n) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y1, y2, mo, d, h, mi, sec, oh, om;
    if (n < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return 0;
    if (!two(s, &y1) || !two(s + 2, &y2) || !two(s + 5, &mo) || !two(s + 8, &d) || !two(s + 11, &h) ||
        !two(s + 14, &mi) || !two(s + 17, &sec))
        return 0;
    int y = y1 * 100 + y2;
    Py_ssize_t i = 19;
    if (i < n && s[i] == '.') {
        Py_ssize_t k = 0;
        while (i + 1 + k < n && s[i + 1 + k] >= '0' && s[i + 1 + k] <= '9') k++;
        if (k < 1 || k > 9) return 0;
        i += 1 + k;
    }
    if (i < n) {
        if (s[i] == 'Z' && i + 1 == n) {
            i = n;
        } else if ((s[i] == '+' || s[i] == '-') && n - i == 6 && s[i + 3] == ':') {
            if (!two(s + i + 1, &oh) || !two(s + i + 4, &om) || oh > 23 || om > 59) return 0;
            i = n;
        } else {
            return 0;
        }
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[mo - 1] + (mo == 2 && leap);
}

/* [+-]digits[.digits][e[+-]digits], or [+-].digits…: what float() reads the same way as
 * PyOS_string_to_double does. */
static int plain_float(const Py_UCS1 *s, Py_ssize_t n) {
    Py_ssize_t i = 0, whole = 0, part = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, whole++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, part++;
    }
    if (whole + part == 0) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        Py_ssize_t exp = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, exp++;
        if (exp == 0) return 0;
    }
    return i == n;
}

/* The value of a scalar attribute when its text is in a plain form (new reference), NULL with
 * no exception set where `_scalar` is to decide. */
static PyObject *plain_scalar(int kind, PyObject *raw) {
    if (kind == K_STRING || kind == K_ID) return Py_NewRef(raw);
    if (!PyUnicode_IS_ASCII(raw)) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(raw);
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(raw);
    if (kind == K_DATE) return plain_date(s, n) ? Py_NewRef(raw) : NULL;
    if (kind == K_INT) {
        Py_ssize_t sign = n > 0 && (s[0] == '-' || s[0] == '+');
        if (n - sign > 18 || !digits_only(s + sign, n - sign)) return NULL; /* longer: Python's */
        long long v = 0;
        for (Py_ssize_t i = sign; i < n; i++) v = v * 10 + (s[i] - '0');
        return PyLong_FromLongLong(s[0] == '-' ? -v : v);
    }
    if (kind == K_FLOAT) {
        char held[64];
        if (n >= (Py_ssize_t)sizeof held || !plain_float(s, n)) return NULL;
        memcpy(held, s, (size_t)n);
        held[n] = '\0';
        char *end;
        double v = PyOS_string_to_double(held, &end, NULL);
        if (v == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return NULL;
        }
        if (end != held + n || !isfinite(v)) return NULL; /* INF keeps its text: Python's */
        return PyFloat_FromDouble(v);
    }
    if (kind == K_BOOLEAN) {
        if (n == 1 && (s[0] == '1' || s[0] == '0')) return PyBool_FromLong(s[0] == '1');
        if (n == 4 && PyOS_strnicmp((const char *)s, "true", 4) == 0) Py_RETURN_TRUE;
        if (n == 5 && PyOS_strnicmp((const char *)s, "false", 5) == 0) Py_RETURN_FALSE;
    }
    return NULL;
}

static int typed(Reader *r, const Tag *t, int depth, PyObject *key, PyObject **out, Py_ssize_t *after);

/* {["key": key,] "type": kind's, "value": value} (new reference); without a key, a copy of the
 * kind's template, which is quicker than filling a new dict. */
static PyObject *typed_dict(Reader *r, int kind, PyObject *key, PyObject *value) {
    PyObject *dict;
    if (key) {
        dict = PyDict_New();
        if (dict && (PyDict_SetItem(dict, r->k_key, key) < 0 || PyDict_SetItem(dict, r->k_type, r->types[kind]) < 0))
            Py_CLEAR(dict);
    } else {
        dict = PyDict_Copy(r->templates[kind]);
    }
    if (dict && PyDict_SetItem(dict, r->k_value, value) < 0) Py_CLEAR(dict);
    return dict;
}

/* A nested attribute under its key: the key counted when it is no XML name, then its value
 * (with `with_key`, the dict begins with "key": key, as an item of a list). */
static int named(Reader *r, const Tag *t, PyObject *key, int is_name, int depth, int with_key, PyObject **out,
                 Py_ssize_t *after) {
    if (!is_name && check_name(r, key) < 0) return RD_ERR;
    return typed(r, t, depth, with_key ? key : NULL, out, after);
}

/* The key of a list's or container's item (empty when it has none). */
static int item_key(Reader *r, const Tag *t, PyObject **key, int *is_name) {
    if (!t->key) {
        *key = Py_NewRef(r->empty);
        *is_name = 0;
        return RD_OK;
    }
    return text(r, t->key, t->key_n, 1, key, is_name);
}

/* An item of a list or container, appended to `items`. */
static int item(Reader *r, const Tag *t, int depth, PyObject *items, Py_ssize_t *after) {
    PyObject *key, *value;
    int is_name, rc = item_key(r, t, &key, &is_name);
    if (rc) return rc;
    rc = named(r, t, key, is_name, depth, 1, &value, after);
    Py_DECREF(key);
    if (rc) return rc;
    rc = PyList_Append(items, value) < 0 ? RD_ERR : RD_OK;
    Py_DECREF(value);
    return rc;
}

/* `children[key]` = the typed value of the keyed attribute `t`. */
static int child(Reader *r, const Tag *t, int depth, PyObject **children, Py_ssize_t *after) {
    PyObject *key, *value;
    int is_name, rc = text(r, t->key, t->key_n, 1, &key, &is_name);
    if (rc) return rc;
    rc = named(r, t, key, is_name, depth, 0, &value, after);
    if (rc == RD_OK) {
        if (!*children && !(*children = PyDict_New()))
            rc = RD_ERR;
        else if (PyDict_SetItem(*children, key, value) < 0)
            rc = RD_ERR;
        Py_DECREF(value);
    }
    Py_DECREF(key);
    return rc;
}

/* The items of a <values> element (its attributes at `depth`). */
static int values(Reader *r, const Tag *t, int depth, PyObject *items, Py_ssize_t *after) {
    if (t->empty) {
        *after = t->after;
        return RD_OK;
    }
    Py_ssize_t i = t->after, lt, next;
    for (;;) {
        int rc = next_tag(r, i, &lt);
        if (rc) return rc;
        if (r->d[lt + 1] == '/') return end_tag(r, lt, t->name, t->name_n, after);
        Tag c;
        if ((rc = start_tag(r, lt, &c))) return rc;
        if (c.prefixed) return RD_ODD;
        if (IS_ATTRIBUTE(c.kind) && depth > r->max_depth) {
            if (count(r, r->too_deep) < 0) return RD_ERR;
            rc = skip(r, &c, &next);
        } else if (IS_ATTRIBUTE(c.kind)) {
            rc = item(r, &c, depth, items, &next);
        } else {
            rc = skip(r, &c, &next);
        }
        if (rc) return rc;
        i = next;
    }
}

/* The typed value of the attribute element `t` at `depth` (1: an event's, a trace's or the
 * log's own), its nested attributes included down to max_depth (`typed_value` in xes.py). */
static int typed(Reader *r, const Tag *t, int depth, PyObject *key, PyObject **out, Py_ssize_t *after) {
    int kind = t->kind, nested = kind == K_LIST || kind == K_CONTAINER, inner = depth + 1, rc = RD_ERR;
    PyObject *dict = NULL, *items = NULL, *children = NULL, *raw = NULL, *value = NULL;
    if (nested) {
        if (!(items = PyList_New(0)) || !(dict = typed_dict(r, kind, key, items))) goto done;
    } else {
        if (t->value) {
            if ((rc = text(r, t->value, t->value_n, kind == K_STRING || kind == K_ID, &raw, NULL))) goto done;
            rc = RD_ERR;
        } else {
            if (count(r, r->no_value) < 0) goto done;
            raw = Py_NewRef(r->empty);
        }
        if ((value = plain_scalar(kind, raw))) {
            if (!(dict = typed_dict(r, kind, key, value))) goto done;
        } else {
            if (PyErr_Occurred()) goto done;
            PyObject *decided = PyObject_CallFunctionObjArgs(r->scalar, r->types[kind], raw, r->cur, NULL);
            if (!decided) goto done;
            dict = PyDict_New();
            int failed = !dict || (key && PyDict_SetItem(dict, r->k_key, key) < 0) || PyDict_Update(dict, decided) < 0;
            Py_DECREF(decided);
            if (failed) goto done;
        }
    }
    Py_ssize_t i = t->after, lt, next;
    if (!t->empty) {
        for (;;) {
            if ((rc = next_tag(r, i, &lt))) goto done;
            if (r->d[lt + 1] == '/') {
                if ((rc = end_tag(r, lt, t->name, t->name_n, &i))) goto done;
                break;
            }
            Tag c;
            if ((rc = start_tag(r, lt, &c))) goto done;
            if (c.prefixed) {
                rc = RD_ODD;
                goto done;
            }
            if (nested && c.kind == K_VALUES) {
                rc = values(r, &c, inner, items, &next);
            } else if (IS_ATTRIBUTE(c.kind) && (nested || c.key)) {
                /* a list or container counts any attribute too deep, a scalar a keyed one */
                if (inner > r->max_depth) {
                    rc = count(r, r->too_deep) < 0 ? RD_ERR : skip(r, &c, &next);
                } else if (kind == K_CONTAINER) {
                    rc = item(r, &c, inner, items, &next);
                } else if (c.key) {
                    rc = child(r, &c, inner, &children, &next);
                } else {
                    rc = skip(r, &c, &next);
                }
            } else {
                rc = skip(r, &c, &next);
            }
            if (rc) goto done;
            i = next;
        }
    }
    rc = RD_ERR;
    if (children && PyDict_SetItem(dict, r->k_children, children) < 0) goto done;
    *after = i;
    *out = Py_NewRef(dict);
    rc = RD_OK;
done:
    Py_XDECREF(dict);
    Py_XDECREF(items);
    Py_XDECREF(children);
    Py_XDECREF(raw);
    Py_XDECREF(value);
    return rc;
}

/* The attributes of an event, or of a trace (`events` not NULL: its events read into it as they
 * come, their problems counted in s_events, the trace's own in the counter current on entry):
 * `attributes_of` in xes.py. */
static int element(Reader *r, const Tag *t, PyObject *events, PyObject **out, Py_ssize_t *after) {
    PyObject *own = PyDict_New(), *counter = r->cur;
    if (!own) return RD_ERR;
    int rc = RD_OK, unchecked = 0; /* a key not known to be an XML name */
    Py_ssize_t i = t->after, lt, next;
    if (!t->empty) {
        for (;;) {
            if ((rc = next_tag(r, i, &lt))) goto done;
            if (r->d[lt + 1] == '/') {
                if ((rc = end_tag(r, lt, t->name, t->name_n, &i))) goto done;
                break;
            }
            Tag c;
            if ((rc = start_tag(r, lt, &c))) goto done;
            if (c.prefixed) {
                rc = RD_ODD;
                goto done;
            }
            if (IS_ATTRIBUTE(c.kind)) {
                if (!c.key) {
                    rc = count(r, r->no_key) < 0 ? RD_ERR : skip(r, &c, &next);
                } else {
                    PyObject *key, *value;
                    int is_name;
                    if ((rc = text(r, c.key, c.key_n, 1, &key, &is_name))) goto done;
                    unchecked |= !is_name;
                    rc = typed(r, &c, 1, NULL, &value, &next);
                    if (rc == RD_OK) {
                        rc = PyDict_SetItem(own, key, value) < 0 ? RD_ERR : RD_OK;
                        Py_DECREF(value);
                    }
                    Py_DECREF(key);
                }
            } else if (c.kind == K_EVENT && events) {
                PyObject *event;
                r->cur = r->s_events;
                rc = element(r, &c, NULL, &event, &next);
                r->cur = counter;
                if (rc == RD_OK) {
                    rc = PyList_Append(events, event) < 0 ? RD_ERR : RD_OK;
                    Py_DECREF(event);
                }
            } else if (c.kind == K_EVENT) {
                rc = skip(r, &c, &next); /* an event in an event: nothing */
            } else {
                rc = count(r, r->unknown) < 0 ? RD_ERR : skip(r, &c, &next);
            }
            if (rc) goto done;
            i = next;
        }
    }
    rc = RD_ERR;
    Py_ssize_t at = 0;
    PyObject *key, *value;
    while (unchecked && PyDict_Next(own, &at, &key, &value))
        if (check_name(r, key) < 0) goto done;
    *after = i;
    *out = Py_NewRef(own);
    rc = RD_OK;
done:
    Py_DECREF(own);
    return rc;
}

/* The header (the log's attributes and what they counted) taken as the log's: at its first trace. */
static int first_trace(Reader *r) {
    if (r->seen) return 0;
    r->seen = 1;
    if (PyDict_Update(r->attributes, r->header) < 0) return -1;
    PyDict_Clear(r->header);
    return merge(r->problems, r->s_header);
}

/* ---- the Reader -------------------------------------------------------------------------- */

static void Reader_dealloc(Reader *r) {
    Py_XDECREF(r->problems);
    Py_XDECREF(r->attributes);
    Py_XDECREF(r->header);
    Py_XDECREF(r->s_header);
    Py_XDECREF(r->s_events);
    Py_XDECREF(r->s_trace);
    Py_XDECREF(r->scalar);
    Py_XDECREF(r->check_name);
    Py_XDECREF(r->names);
    Py_XDECREF(r->no_key);
    Py_XDECREF(r->no_value);
    Py_XDECREF(r->unknown);
    Py_XDECREF(r->too_deep);
    for (int k = 0; k < N_TYPES; k++) {
        Py_XDECREF(r->types[k]);
        Py_XDECREF(r->templates[k]);
    }
    Py_XDECREF(r->k_type);
    Py_XDECREF(r->k_value);
    Py_XDECREF(r->k_children);
    Py_XDECREF(r->k_key);
    Py_XDECREF(r->empty);
    if (r->cache) {
        for (int s = 0; s < CACHE_SLOTS; s++) Py_XDECREF(r->cache[s].text);
        PyMem_Free(r->cache);
    }
    PyMem_Free(r->root);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static int Reader_init(Reader *r, PyObject *args, PyObject *kwargs) {
    static char *kw[] = {"problems", "attributes", "scratch", "scalar", "check_name", "names", "reasons",
                         "max_depth", NULL};
    PyObject *problems, *attributes, *scalar, *check_name, *names, *header, *s_header, *s_events, *s_trace;
    PyObject *no_key, *no_value, *unknown, *too_deep;
    int max_depth;
    if (r->cache) {
        PyErr_SetString(PyExc_RuntimeError, "a Reader is made once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!(O!O!O!O!)OOO!(UUUU)i", kw, &PyDict_Type, &problems,
                                     &PyDict_Type, &attributes, &PyDict_Type, &header, &PyDict_Type, &s_header,
                                     &PyDict_Type, &s_events, &PyDict_Type, &s_trace, &scalar, &check_name,
                                     &PySet_Type, &names, &no_key, &no_value, &unknown, &too_deep, &max_depth))
        return -1;
    r->problems = Py_NewRef(problems);
    r->attributes = Py_NewRef(attributes);
    r->header = Py_NewRef(header);
    r->s_header = Py_NewRef(s_header);
    r->s_events = Py_NewRef(s_events);
    r->s_trace = Py_NewRef(s_trace);
    r->scalar = Py_NewRef(scalar);
    r->check_name = Py_NewRef(check_name);
    r->names = Py_NewRef(names);
    r->no_key = Py_NewRef(no_key);
    r->no_value = Py_NewRef(no_value);
    r->unknown = Py_NewRef(unknown);
    r->too_deep = Py_NewRef(too_deep);
    r->max_depth = max_depth;
    static const char *types[N_TYPES] = {NULL, "string", "date", "int", "float", "boolean", "id", "list", "container"};
    for (int k = 1; k < N_TYPES; k++)
        if (!(r->types[k] = PyUnicode_InternFromString(types[k]))) return -1;
    if (!(r->k_type = PyUnicode_InternFromString("type")) || !(r->k_value = PyUnicode_InternFromString("value")) ||
        !(r->k_children = PyUnicode_InternFromString("children")) || !(r->k_key = PyUnicode_InternFromString("key")) ||
        !(r->empty = PyUnicode_New(0, 127)))
        return -1;
    for (int k = 1; k < N_TYPES; k++)
        if (!(r->templates[k] = PyDict_New()) || PyDict_SetItem(r->templates[k], r->k_type, r->types[k]) < 0 ||
            PyDict_SetItem(r->templates[k], r->k_value, Py_None) < 0)
            return -1;
    if (!(r->cache = PyMem_Calloc(CACHE_SLOTS, sizeof(Slot)))) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *odd(void) {
    PyErr_SetString(Odd, "a form the compiled reader leaves to lxml");
    return NULL;
}

/* The pseudo-attribute `name` of an XML declaration [at, end) is `want` (case aside), or absent. */
static int declared(const Reader *r, Py_ssize_t at, Py_ssize_t end, const char *name, const char *want) {
    const char *d = r->d;
    Py_ssize_t m = (Py_ssize_t)strlen(name), w = (Py_ssize_t)strlen(want);
    Py_ssize_t e = find(r, at, name, m);
    if (e < 0 || e >= end) return 1;
    Py_ssize_t i = e + m;
    while (i < end && is_ws(d[i])) i++;
    if (i >= end || d[i] != '=') return 0;
    i++;
    while (i < end && is_ws(d[i])) i++;
    if (i >= end || (d[i] != '"' && d[i] != '\'')) return 0;
    char quote = d[i++];
    Py_ssize_t s = i;
    while (i < end && d[i] != quote) i++;
    return i - s == w && PyOS_strnicmp(d + s, want, (size_t)w) == 0;
}

/* prolog(buffer) -> None (more bytes, please) or (offset after the root's start tag, offset of
 * that tag, root name, whether the root is empty). Raises Odd for what lxml is to read. */
static PyObject *Reader_prolog(Reader *r, PyObject *arg) {
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    r->d = b.buf;
    r->n = b.len;
    const char *d = r->d;
    Py_ssize_t n = r->n, i = 0, e;
    PyObject *result = NULL;
    int more = 0;
    if (n < 4) {
        more = 1;
        goto done;
    }
    if ((unsigned char)d[0] == 0xEF) {
        if ((unsigned char)d[1] != 0xBB || (unsigned char)d[2] != 0xBF) goto bad;
        i = 3;
    }
    if (memchr(d, '\0', 4) || (unsigned char)d[0] == 0xFE || (unsigned char)d[0] == 0xFF) goto bad;
    for (;;) {
        while (i < n && is_ws(d[i])) i++;
        if (n - i < 4) {
            more = 1;
            goto done;
        }
        if (d[i] != '<') goto bad;
        if (d[i + 1] == '?') {
            if ((e = find(r, i + 2, "?>", 2)) < 0) {
                more = 1;
                goto done;
            }
            /* XML 1.1 (other line ends) and encodings other than UTF-8: lxml's */
            if (e >= i + 5 && memcmp(d + i + 2, "xml", 3) == 0 && is_ws(d[i + 5]) &&
                (!declared(r, i, e, "version", "1.0") || !declared(r, i, e, "encoding", "utf-8")))
                goto bad;
            i = e + 2;
        } else if (d[i + 1] == '!') {
            if (d[i + 2] != '-' || d[i + 3] != '-') goto bad; /* a DOCTYPE: its entities are lxml's */
            if ((e = find(r, i + 4, "-->", 3)) < 0) {
                more = 1;
                goto done;
            }
            i = e + 3;
        } else {
            Tag t;
            int rc = start_tag(r, i, &t);
            if (rc == RD_MORE) {
                more = 1;
                goto done;
            }
            if (rc || t.prefixed) goto bad;
            PyMem_Free(r->root);
            if (!(r->root = PyMem_Malloc((size_t)t.name_n))) {
                PyErr_NoMemory();
                goto done;
            }
            memcpy(r->root, t.name, (size_t)t.name_n);
            r->root_n = t.name_n;
            r->in_root = !t.empty;
            result = Py_BuildValue("(nny#O)", t.after, i, t.name, t.name_n, t.empty ? Py_True : Py_False);
            goto done;
        }
    }
bad:
    odd();
done:
    PyBuffer_Release(&b);
    if (more) Py_RETURN_NONE;
    return result;
}

/* next(buffer, offset) -> the log's next trace from `offset` (the end of what was read before):
 *   (0, after, attributes, [event attributes…], stray): a trace read here;
 *   (1, after, start, end, stray): a trace for lxml to read, the bytes [start, end);
 *   (2, after, stray): the end of the log;
 *   (3, offset): the bytes end first: call again with more, from `offset`;
 * `stray`: the events in no trace seen since the trace before. Raises Odd for what lxml is to read. */
static PyObject *Reader_next(Reader *r, PyObject *args) {
    Py_buffer b;
    Py_ssize_t pos;
    if (!PyArg_ParseTuple(args, "y*n", &b, &pos)) return NULL;
    PyObject *result = NULL;
    if (!r->in_root || pos < 0 || pos > b.len) {
        PyErr_SetString(PyExc_ValueError, "next() before the log's start tag, or outside the buffer");
        goto done;
    }
    r->d = b.buf;
    r->n = b.len;
    for (;;) {
        Py_ssize_t lt, after;
        int rc = next_tag(r, pos, &lt);
        if (rc == RD_MORE) {
            result = Py_BuildValue("(in)", A_MORE, pos);
            break;
        }
        if (rc) {
            odd();
            break;
        }
        if (r->d[lt + 1] == '/') {
            rc = end_tag(r, lt, r->root, r->root_n, &after);
            if (rc == RD_MORE) {
                result = Py_BuildValue("(in)", A_MORE, pos);
            } else if (rc) {
                odd();
            } else {
                r->in_root = 0;
                result = Py_BuildValue("(inn)", A_END, after, r->seen ? r->stray : 0);
            }
            break;
        }
        Tag t;
        rc = start_tag(r, lt, &t);
        if (rc == RD_MORE) {
            result = Py_BuildValue("(in)", A_MORE, pos);
            break;
        }
        if (rc || t.prefixed) {
            odd();
            break;
        }
        if (t.kind == K_TRACE) {
            PyObject *attributes = NULL, *events = PyList_New(0);
            if (!events) break;
            r->cur = r->s_trace;
            rc = element(r, &t, events, &attributes, &after);
            if (rc == RD_OK && (first_trace(r) < 0 || merge(r->problems, r->s_events) < 0 ||
                               merge(r->problems, r->s_trace) < 0)) {
                Py_DECREF(attributes);
                rc = RD_ERR;
            }
            if (rc) {
                Py_DECREF(events);
                PyDict_Clear(r->s_events);
                PyDict_Clear(r->s_trace);
            }
            if (rc == RD_OK) {
                result = Py_BuildValue("(inNNn)", A_TRACE, after, attributes, events, r->stray);
                r->stray = 0;
            } else if (rc == RD_MORE) {
                result = Py_BuildValue("(in)", A_MORE, lt);
            } else if (rc == RD_ODD) {
                rc = skip(r, &t, &after);
                if (rc == RD_MORE) {
                    result = Py_BuildValue("(in)", A_MORE, lt);
                } else if (rc) {
                    odd();
                } else if (first_trace(r) == 0) {
                    result = Py_BuildValue("(innnn)", A_ODD_TRACE, after, lt, after, r->stray);
                    r->stray = 0;
                }
            }
            break;
        }
        rc = skip(r, &t, &after);
        if (rc == RD_MORE) {
            result = Py_BuildValue("(in)", A_MORE, lt);
            break;
        }
        if (rc) {
            odd();
            break;
        }
        if (t.kind == K_EVENT) {
            r->stray++;
        } else if (!r->seen && IS_ATTRIBUTE(t.kind) && t.key) {
            /* one of the log's own attributes: read now that it is known to be whole */
            PyObject *key, *value;
            Py_ssize_t end;
            r->cur = r->s_header;
            rc = text(r, t.key, t.key_n, 1, &key, NULL);
            if (rc == RD_OK) {
                rc = typed(r, &t, 1, NULL, &value, &end);
                if (rc == RD_OK) {
                    rc = PyDict_SetItem(r->header, key, value) < 0 ? RD_ERR : RD_OK;
                    Py_DECREF(value);
                }
                Py_DECREF(key);
            }
            if (rc == RD_ERR) break;
            if (rc) {
                odd();
                break;
            }
        }
        pos = after;
    }
done:
    PyBuffer_Release(&b);
    return result;
}

static PyMethodDef Reader_methods[] = {
    {"prolog", (PyCFunction)Reader_prolog, METH_O, "prolog(buffer) -> None or (after, start, root, empty)"},
    {"next", (PyCFunction)Reader_next, METH_VARARGS, "next(buffer, offset) -> the next trace (see the module)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "gateways.interchange._xesread.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reader(problems, attributes, scratch, scalar, check_name, names, reasons, max_depth)",
    .tp_methods = Reader_methods,
    .tp_init = (initproc)Reader_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_xesread", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__xesread(void) {
    bytes_init();
    if (PyType_Ready(&ReaderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Odd = PyErr_NewException("gateways.interchange._xesread.Odd", NULL, NULL);
    if (!Odd || PyModule_AddObjectRef(m, "Odd", Odd) < 0 || PyModule_AddObjectRef(m, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
