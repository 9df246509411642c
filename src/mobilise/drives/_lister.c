/* Optional compiled lister for mobilise.drives.scan (the pure-Python walk is the fallback
 * and the reference: tests check both give the same inventory).
 *
 * Why it exists: CPython spends most of a scan building a DirEntry and a stat_result per
 * entry. Here one call lists one folder through its descriptor (readdir + fstatat, as
 * find does) and appends each entry straight into column buffers that Python wraps as
 * Arrow arrays without converting anything per row. The walk itself (the stack of
 * folders, loop and depth checks, folder rows) stays in Python, shared with the
 * fallback, so both implementations decide the same things in one place.
 */
#define _GNU_SOURCE /* memrchr */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Kind and error codes: the order of KINDS and ERRORS in scan.py. */
enum { K_FILE = 0, K_FOLDER = 1, K_SYMLINK = 2, K_SPECIAL = 3 };
enum { E_NONE = 0, E_PERMISSION = 1, E_VANISHED = 2, E_TOO_DEEP = 3, E_LOOP = 4,
       E_UNREADABLE = 5 };
/* Row flags. */
enum { F_STAT = 1, F_NAME_UTF8 = 2, F_PATH_UTF8 = 4, F_EXT = 8, F_SLOW_EXT = 16 };

typedef struct {
    char *data;
    size_t len, cap;
} Bytes;

typedef struct {
    PyObject_HEAD
    Py_ssize_t n, cap;
    int64_t *ids, *parents, *sizes, *atimes, *mtimes, *ctimes;
    uint32_t *modes;
    int32_t *depths, *path_off, *name_off, *ext_off;
    uint8_t *kinds, *errors, *flags;
    Bytes paths, names, exts;
    Py_ssize_t without_stat, bad_text, slow_ext;
} Batch;

static int grow_bytes(Bytes *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + more) cap *= 2;
    char *data = PyMem_Realloc(b->data, cap);
    if (!data) { PyErr_NoMemory(); return -1; }
    b->data = data;
    b->cap = cap;
    return 0;
}

#define GROW(field, type)                                                     \
    do {                                                                      \
        type *p = PyMem_Realloc(self->field, (size_t)cap * sizeof(type));     \
        if (!p) { PyErr_NoMemory(); return -1; }                              \
        self->field = p;                                                      \
    } while (0)

static int grow_rows(Batch *self) {
    if (self->n < self->cap) return 0;
    Py_ssize_t cap = self->cap ? self->cap * 2 : 4096;
    GROW(ids, int64_t); GROW(parents, int64_t); GROW(sizes, int64_t);
    GROW(atimes, int64_t); GROW(mtimes, int64_t); GROW(ctimes, int64_t);
    GROW(modes, uint32_t); GROW(depths, int32_t); GROW(kinds, uint8_t);
    GROW(errors, uint8_t); GROW(flags, uint8_t);
    /* offsets hold one more than the rows */
    int32_t *p;
    if (!(p = PyMem_Realloc(self->path_off, (size_t)(cap + 1) * sizeof(int32_t)))) goto nomem;
    self->path_off = p;
    if (!(p = PyMem_Realloc(self->name_off, (size_t)(cap + 1) * sizeof(int32_t)))) goto nomem;
    self->name_off = p;
    if (!(p = PyMem_Realloc(self->ext_off, (size_t)(cap + 1) * sizeof(int32_t)))) goto nomem;
    self->ext_off = p;
    if (self->cap == 0) self->path_off[0] = self->name_off[0] = self->ext_off[0] = 0;
    self->cap = cap;
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

/* Strict UTF-8, as Python's decoder: no overlong forms, no surrogates, nothing past
 * U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (i + need >= n) return 0;  /* truncated sequence */
        for (size_t k = 1; k <= need; k++) {
            unsigned char d = s[i + k];
            if ((d & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (d & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

static inline int64_t nanos(struct timespec t) {
    return (int64_t)t.tv_sec * 1000000000LL + (int64_t)t.tv_nsec;
}

/* Append one row. prefix/name are raw bytes; st may be NULL (no stat). */
static int add(Batch *self, int64_t id, int64_t parent, const char *prefix, size_t plen,
               int prefix_utf8, const char *name, size_t nlen, int32_t depth,
               const struct stat *st, int kind, int error) {
    if (grow_rows(self) < 0) return -1;
    if (grow_bytes(&self->paths, plen + nlen) < 0) return -1;
    if (grow_bytes(&self->names, nlen) < 0) return -1;
    Py_ssize_t i = self->n;
    if (self->paths.len + plen + nlen > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "batch of paths over 2 GB");
        return -1;
    }
    memcpy(self->paths.data + self->paths.len, prefix, plen);
    memcpy(self->paths.data + self->paths.len + plen, name, nlen);
    self->paths.len += plen + nlen;
    self->path_off[i + 1] = (int32_t)self->paths.len;
    memcpy(self->names.data + self->names.len, name, nlen);
    self->names.len += nlen;
    self->name_off[i + 1] = (int32_t)self->names.len;

    uint8_t flags = 0;
    if (valid_utf8((const unsigned char *)name, nlen)) flags |= F_NAME_UTF8;
    if (prefix_utf8 && (flags & F_NAME_UTF8)) flags |= F_PATH_UTF8;
    else self->bad_text++;

    /* Extension of a file: the text after the last dot when a character other than a
     * dot comes before it (the regex [^.]\.([^.]+)$), lower-cased. Non-ASCII ones are
     * lower-cased by Python (Unicode rules), flagged here. */
    int32_t ext_end = self->ext_off[i];
    if (kind == K_FILE) {
        size_t dot = nlen;
        while (dot > 0 && name[dot - 1] != '.') dot--;
        if (dot >= 2 && dot < nlen && name[dot - 2] != '.') {
            size_t elen = nlen - dot;
            if (grow_bytes(&self->exts, elen) < 0) return -1;
            char *out = self->exts.data + self->exts.len;
            int ascii = 1;
            for (size_t k = 0; k < elen; k++) {
                unsigned char c = (unsigned char)name[dot + k];
                if (c >= 0x80) ascii = 0;
                out[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
            }
            self->exts.len += elen;
            ext_end = (int32_t)self->exts.len;
            flags |= F_EXT;
            if (!ascii) { flags |= F_SLOW_EXT; self->slow_ext++; }
        }
    }
    self->ext_off[i + 1] = ext_end;

    self->ids[i] = id;
    self->parents[i] = parent;
    self->depths[i] = depth;
    self->kinds[i] = (uint8_t)kind;
    self->errors[i] = (uint8_t)error;
    if (st) {
        flags |= F_STAT;
        self->modes[i] = (uint32_t)st->st_mode;
        self->sizes[i] = (int64_t)st->st_size;
        self->atimes[i] = nanos(st->st_atim);
        self->mtimes[i] = nanos(st->st_mtim);
        self->ctimes[i] = nanos(st->st_ctim);
    } else {
        self->modes[i] = 0;
        self->sizes[i] = self->atimes[i] = self->mtimes[i] = self->ctimes[i] = 0;
        self->without_stat++;
    }
    self->flags[i] = flags;
    self->n++;
    return 0;
}

static int kind_of_mode(mode_t mode) {
    if (S_ISREG(mode)) return K_FILE;
    if (S_ISDIR(mode)) return K_FOLDER;
    if (S_ISLNK(mode)) return K_SYMLINK;
    return K_SPECIAL;
}

static int error_of_errno(int err) {
    switch (err) {
    case EACCES: case EPERM: return E_PERMISSION;
    case ENOENT: case ENOTDIR: return E_VANISHED;
    case ELOOP: return E_LOOP;
    default: return E_UNREADABLE;
    }
}

static int guess_kind(unsigned char d_type) {
    switch (d_type) {
    case DT_LNK: return K_SYMLINK;
    case DT_DIR: return K_FOLDER;
    case DT_REG: return K_FILE;
    default: return K_SPECIAL;
    }
}

static PyObject *stat_tuple(const struct stat *st) {
    return Py_BuildValue("(kKKLLLL)", (unsigned long)st->st_mode,
                         (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
                         (long long)st->st_size, (long long)nanos(st->st_atim),
                         (long long)nanos(st->st_mtim), (long long)nanos(st->st_ctim));
}

/* list_folder(fd, prefix, prefix_abs, dir_id, depth, next_id, limit, flush, before_stat)
 *   -> (next_id, subfolders, errno)
 * Lists the open folder ``fd`` (not closed here). Every entry that is not a folder
 * becomes a row; each folder comes back as (name, id, stat tuple) for the walk to decide
 * on. ``flush`` is called whenever the batch reaches ``limit`` rows. ``before_stat``
 * (tests only, or None) is called with the entry's absolute path before its fstatat.
 * errno is non-zero when the listing broke off part-way. */
static PyObject *Batch_list_folder(Batch *self, PyObject *args) {
    int fd;
    const char *prefix, *prefix_abs;
    Py_ssize_t plen, alen, limit;
    long long dir_id, next_id;
    int depth;
    PyObject *flush, *before_stat;
    if (!PyArg_ParseTuple(args, "iy#y#LiLnOO", &fd, &prefix, &plen, &prefix_abs, &alen,
                          &dir_id, &depth, &next_id, &limit, &flush, &before_stat))
        return NULL;
    int prefix_utf8 = valid_utf8((const unsigned char *)prefix, (size_t)plen);
    int dup_fd = dup(fd);
    if (dup_fd < 0) return PyErr_SetFromErrno(PyExc_OSError);
    DIR *dir = fdopendir(dup_fd);
    if (!dir) {
        close(dup_fd);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *subfolders = PyList_New(0);
    if (!subfolders) { closedir(dir); return NULL; }
    int failure = 0;
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(dir);
        if (!entry) { failure = errno; break; }
        const char *name = entry->d_name;
        if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
        size_t nlen = strlen(name);
        if (before_stat != Py_None) {
            PyObject *path = PyBytes_FromStringAndSize(NULL, alen + (Py_ssize_t)nlen);
            if (!path) goto error;
            memcpy(PyBytes_AS_STRING(path), prefix_abs, (size_t)alen);
            memcpy(PyBytes_AS_STRING(path) + alen, name, nlen);
            PyObject *fs = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(path),
                                                            PyBytes_GET_SIZE(path));
            Py_DECREF(path);
            if (!fs) goto error;
            PyObject *res = PyObject_CallOneArg(before_stat, fs);
            Py_DECREF(fs);
            if (!res) goto error;
            Py_DECREF(res);
        }
        struct stat st;
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW);
        Py_END_ALLOW_THREADS
        if (rc != 0) {
            if (add(self, next_id, dir_id, prefix, (size_t)plen, prefix_utf8, name, nlen,
                    depth, NULL, guess_kind(entry->d_type), error_of_errno(errno)) < 0)
                goto error;
        } else if (S_ISDIR(st.st_mode)) {
            PyObject *st_tuple = stat_tuple(&st);
            if (!st_tuple) goto error;
            PyObject *item = Py_BuildValue("(y#LN)", name, (Py_ssize_t)nlen, next_id, st_tuple);
            if (!item || PyList_Append(subfolders, item) < 0) { Py_XDECREF(item); goto error; }
            Py_DECREF(item);
            next_id++;
            continue;  /* its row is added by the walk, when it is visited */
        } else if (add(self, next_id, dir_id, prefix, (size_t)plen, prefix_utf8, name, nlen,
                       depth, &st, kind_of_mode(st.st_mode), E_NONE) < 0) {
            goto error;
        }
        next_id++;
        if (self->n >= limit) {
            PyObject *res = PyObject_CallNoArgs(flush);
            if (!res) goto error;
            Py_DECREF(res);
        }
    }
    closedir(dir);
    return Py_BuildValue("(LNi)", next_id, subfolders, failure);
error:
    closedir(dir);
    Py_DECREF(subfolders);
    return NULL;
}

/* add_row(id, parent, path, depth, stat tuple or None, kind, error): a row the walk
 * describes itself (a folder when visited, or an entry in error). */
static PyObject *Batch_add_row(Batch *self, PyObject *args) {
    long long id, parent;
    const char *path;
    Py_ssize_t len;
    int depth, kind, error;
    PyObject *st_obj;
    if (!PyArg_ParseTuple(args, "LLy#iOii", &id, &parent, &path, &len, &depth, &st_obj,
                          &kind, &error))
        return NULL;
    const char *slash = memrchr(path, '/', (size_t)len);
    size_t plen = slash ? (size_t)(slash - path) + 1 : 0;
    int prefix_utf8 = valid_utf8((const unsigned char *)path, plen);
    struct stat st;
    struct stat *stp = NULL;
    if (st_obj != Py_None) {
        unsigned long mode;
        unsigned long long dev, ino;
        long long size, a, m, c;
        if (!PyArg_ParseTuple(st_obj, "kKKLLLL", &mode, &dev, &ino, &size, &a, &m, &c))
            return NULL;
        memset(&st, 0, sizeof st);
        st.st_mode = (mode_t)mode;
        st.st_size = (off_t)size;
        st.st_atim.tv_sec = a / 1000000000LL; st.st_atim.tv_nsec = a % 1000000000LL;
        st.st_mtim.tv_sec = m / 1000000000LL; st.st_mtim.tv_nsec = m % 1000000000LL;
        st.st_ctim.tv_sec = c / 1000000000LL; st.st_ctim.tv_nsec = c % 1000000000LL;
        stp = &st;
    }
    if (add(self, id, parent, path, plen, prefix_utf8, path + plen, (size_t)len - plen, depth,
            stp, kind, error) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *take_bytes(const void *data, size_t len) {
    return PyBytes_FromStringAndSize(len ? (const char *)data : "", (Py_ssize_t)len);
}

/* take() -> dict of column buffers (bytes) and counts; the batch starts again empty. */
static PyObject *Batch_take(Batch *self, PyObject *Py_UNUSED(ignored)) {
    Py_ssize_t n = self->n;
    size_t rows = (size_t)n;
    if (self->cap == 0 && grow_rows(self) < 0) return NULL;
    PyObject *d = Py_BuildValue(
        "{s:n,s:n,s:n,s:n,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N}",
        "rows", n, "without_stat", self->without_stat, "bad_text", self->bad_text,
        "slow_ext", self->slow_ext,
        "ids", take_bytes(self->ids, rows * 8), "parents", take_bytes(self->parents, rows * 8),
        "sizes", take_bytes(self->sizes, rows * 8), "atimes", take_bytes(self->atimes, rows * 8),
        "mtimes", take_bytes(self->mtimes, rows * 8), "ctimes", take_bytes(self->ctimes, rows * 8),
        "modes", take_bytes(self->modes, rows * 4), "depths", take_bytes(self->depths, rows * 4),
        "kinds", take_bytes(self->kinds, rows), "errors", take_bytes(self->errors, rows),
        "flags", take_bytes(self->flags, rows),
        "path_off", take_bytes(self->path_off, (rows + 1) * 4),
        "path_data", take_bytes(self->paths.data, self->paths.len),
        "name_off", take_bytes(self->name_off, (rows + 1) * 4),
        "name_data", take_bytes(self->names.data, self->names.len),
        "ext_off", take_bytes(self->ext_off, (rows + 1) * 4),
        "ext_data", take_bytes(self->exts.data, self->exts.len));
    if (!d) return NULL;
    self->n = 0;
    self->paths.len = self->names.len = self->exts.len = 0;
    self->without_stat = self->bad_text = self->slow_ext = 0;
    return d;
}

static Py_ssize_t Batch_len(Batch *self) { return self->n; }

static void Batch_dealloc(Batch *self) {
    PyMem_Free(self->ids); PyMem_Free(self->parents); PyMem_Free(self->sizes);
    PyMem_Free(self->atimes); PyMem_Free(self->mtimes); PyMem_Free(self->ctimes);
    PyMem_Free(self->modes); PyMem_Free(self->depths); PyMem_Free(self->kinds);
    PyMem_Free(self->errors); PyMem_Free(self->flags); PyMem_Free(self->path_off);
    PyMem_Free(self->name_off); PyMem_Free(self->ext_off); PyMem_Free(self->paths.data);
    PyMem_Free(self->names.data); PyMem_Free(self->exts.data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Batch_methods[] = {
    {"list_folder", (PyCFunction)Batch_list_folder, METH_VARARGS, "List one open folder."},
    {"add_row", (PyCFunction)Batch_add_row, METH_VARARGS, "Append one row."},
    {"take", (PyCFunction)Batch_take, METH_NOARGS, "Column buffers; empties the batch."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Batch_as_sequence = {.sq_length = (lenfunc)Batch_len};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mobilise.drives._lister.Batch",
    .tp_basicsize = sizeof(Batch),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Column buffers of inventory rows, filled by listing folders.",
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Batch_dealloc,
    .tp_methods = Batch_methods,
    .tp_as_sequence = &Batch_as_sequence,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_lister", "Compiled folder lister for the drive scanner.", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__lister(void) {
    if (PyType_Ready(&BatchType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    /* scan.py uses the lister only when this matches what it expects: an old build left
     * in place by an editable install is then ignored, not misused. */
    if (PyModule_AddIntConstant(m, "INTERFACE", 1) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&BatchType);
    if (PyModule_AddObject(m, "Batch", (PyObject *)&BatchType) < 0) {
        Py_DECREF(&BatchType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
