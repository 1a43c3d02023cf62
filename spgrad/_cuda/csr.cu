// spgrad CUDA kernels: sparse-dense products on CSR and the sampled dense-dense product.
//
// Templated on the index type I (int, long long) and the value type T (float, double,
// spgrad::complex<float>, spgrad::complex<double>); instantiated through NVRTC name
// expressions such as "spgrad_csr_matvec<int, double>" (spgrad/_cuda/_launch.py lists them).
// Python allocates, kernels fill, with the semantics of the CPU kernels of the same names
// (spgrad/_cpu). One thread per row (or per row and column); no shared memory and no block
// synchronisation, so the test suite can run the same source sequentially on the CPU.

namespace spgrad {

// A complex number with the memory layout of NumPy's complex64 / complex128.
template <typename R>
struct complex {
    R re, im;
    __device__ __forceinline__ complex() : re(0), im(0) {}
    __device__ __forceinline__ complex(R r) : re(r), im(0) {}
    __device__ __forceinline__ complex(R r, R i) : re(r), im(i) {}
};

template <typename R>
__device__ __forceinline__ complex<R> operator+(complex<R> a, complex<R> b) {
    return complex<R>(a.re + b.re, a.im + b.im);
}

template <typename R>
__device__ __forceinline__ complex<R> operator-(complex<R> a, complex<R> b) {
    return complex<R>(a.re - b.re, a.im - b.im);
}

template <typename R>
__device__ __forceinline__ complex<R> operator*(complex<R> a, complex<R> b) {
    return complex<R>(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}

// NumPy's ordering: complex values compare by real part, then imaginary part.
template <typename T>
__device__ __forceinline__ bool less(T a, T b) { return a < b; }

template <typename R>
__device__ __forceinline__ bool less(complex<R> a, complex<R> b) {
    return a.re < b.re || (a.re == b.re && a.im < b.im);
}

template <typename T>
__device__ __forceinline__ bool nonzero(T a) { return a != T(0); }

template <typename R>
__device__ __forceinline__ bool nonzero(complex<R> a) { return a.re != 0 || a.im != 0; }

// The element-wise operations of csr_binop (codes as spgrad._cpu.BINOP_*); max and min follow
// std::max / std::min: a NaN first operand wins, a NaN second operand loses.
template <typename T>
__device__ __forceinline__ T binop(long long op, T a, T b) {
    switch (op) {
        case 0: return a + b;
        case 1: return a - b;
        case 2: return a * b;
        case 3: return less(a, b) ? b : a;
        default: return less(b, a) ? b : a;
    }
}

// NumPy's maximum, minimum, fmax and fmin (codes as spgrad._cpu.REDUCE_*): keeps(op, acc, x)
// says whether op(acc, x) is acc. Ties keep the first operand; maximum and minimum keep a
// NaN, fmax and fmin drop one. Complex values compare as in NumPy (CGE/CLE): by real part,
// then imaginary part, and a NaN imaginary part makes unequal real parts incomparable.
template <typename T>
__device__ __forceinline__ bool is_nan(T a) { return a != a; }

template <typename R>
__device__ __forceinline__ bool is_nan(complex<R> a) { return a.re != a.re || a.im != a.im; }

template <typename T>
__device__ __forceinline__ bool ordered(T a, T b, bool greater, bool strict) {
    if (greater) return strict ? a > b : a >= b;
    return strict ? a < b : a <= b;
}

template <typename R>
__device__ __forceinline__ bool ordered(complex<R> a, complex<R> b, bool greater, bool strict) {
    if (a.re == b.re) return ordered(a.im, b.im, greater, strict);
    if (a.im != a.im || b.im != b.im) return false;
    return greater ? a.re > b.re : a.re < b.re;
}

template <typename T>
__device__ __forceinline__ bool keeps(long long op, T acc, T x) {
    bool greater = op == 0 || op == 2;
    if (op < 2) return is_nan(acc) || ordered(acc, x, greater, false);
    return is_nan(x) || ordered(acc, x, greater, false);
}

template <typename T>
__device__ __forceinline__ bool equal(T a, T b) { return a == b; }

template <typename R>
__device__ __forceinline__ bool equal(complex<R> a, complex<R> b) {
    return a.re == b.re && a.im == b.im;
}

template <typename T>
__device__ __forceinline__ void atomic_add(T* target, T value) {
    atomicAdd(target, value);
}

// complex: the real and imaginary parts are added separately (each atomically)
template <typename R>
__device__ __forceinline__ void atomic_add(complex<R>* target, complex<R> value) {
    atomicAdd(&target->re, value.re);
    atomicAdd(&target->im, value.im);
}

__device__ __forceinline__ long long global_thread() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

}  // namespace spgrad

// y[i] = sum_p data[p] * x[indices[p]] over row i, summed from zero in storage order.
template <typename I, typename T>
__global__ void spgrad_csr_matvec(long long n_row, const I* __restrict__ indptr,
                                  const I* __restrict__ indices, const T* __restrict__ data,
                                  const T* __restrict__ x, T* __restrict__ y) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    T s = T(0);
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) s = s + data[p] * x[indices[p]];
    y[i] = s;
}

// Y = A X for C-ordered X (n_col x k) and Y (n_row x k): one thread per output element.
template <typename I, typename T>
__global__ void spgrad_csr_matvecs(long long n_row, long long k, const I* __restrict__ indptr,
                                   const I* __restrict__ indices, const T* __restrict__ data,
                                   const T* __restrict__ X, T* __restrict__ Y) {
    long long t = spgrad::global_thread();
    if (t >= n_row * k) return;
    long long i = t / k, c = t - i * k;
    T s = T(0);
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) s = s + data[p] * X[(long long)indices[p] * k + c];
    Y[t] = s;
}

// y += A^T x (y zeroed by the launcher): each row scatters into y with atomic additions, so
// the order of the additions into one y[j] varies between runs on a GPU.
template <typename I, typename T>
__global__ void spgrad_csr_matvec_transpose(long long n_row, const I* __restrict__ indptr,
                                            const I* __restrict__ indices,
                                            const T* __restrict__ data, const T* __restrict__ x,
                                            T* __restrict__ y) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    T xi = x[i];
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) spgrad::atomic_add(&y[indices[p]], data[p] * xi);
}

// Y += A^T X (Y zeroed by the launcher): one thread per (row, column) of X.
template <typename I, typename T>
__global__ void spgrad_csr_matvecs_transpose(long long n_row, long long k,
                                             const I* __restrict__ indptr,
                                             const I* __restrict__ indices,
                                             const T* __restrict__ data,
                                             const T* __restrict__ X, T* __restrict__ Y) {
    long long t = spgrad::global_thread();
    if (t >= n_row * k) return;
    long long i = t / k, c = t - i * k;
    T xi = X[t];
    for (I p = indptr[i]; p < indptr[i + 1]; ++p)
        spgrad::atomic_add(&Y[(long long)indices[p] * k + c], data[p] * xi);
}

// out[p] = sum_c A[i, c] * B[j, c] for every entry p = (i, j) of the mask: one thread per row.
template <typename I, typename T>
__global__ void spgrad_csr_sddmm(long long n_row, long long k, const I* __restrict__ indptr,
                                 const I* __restrict__ indices, const T* __restrict__ A,
                                 const T* __restrict__ B, T* __restrict__ out) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    const T* a = A + i * k;
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) {
        const T* b = B + (long long)indices[p] * k;
        T s = T(0);
        for (long long c = 0; c < k; ++c) s = s + a[c] * b[c];
        out[p] = s;
    }
}

// rows[p] = i for indptr[i] <= p < indptr[i + 1]: one thread per row.
template <typename I>
__global__ void spgrad_expand_indptr(long long n_row, const I* __restrict__ indptr,
                                     I* __restrict__ rows) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) rows[p] = (I)i;
}

// out[m] += sum of the entries of row first + m in column first + m + k: one thread per
// diagonal element.
template <typename I, typename T>
__global__ void spgrad_csr_diagonal(long long count, long long k, long long first,
                                    const I* __restrict__ indptr, const I* __restrict__ indices,
                                    const T* __restrict__ data, T* __restrict__ out) {
    long long m = spgrad::global_thread();
    if (m >= count) return;
    long long i = first + m, j = i + k;
    T s = out[m];
    for (I p = indptr[i]; p < indptr[i + 1]; ++p)
        if ((long long)indices[p] == j) s = s + data[p];
    out[m] = s;
}

// out[i] = sum of the stored values of row i, left to right: one thread per row.
template <typename I, typename T>
__global__ void spgrad_csr_row_sums(long long n_row, const I* __restrict__ indptr,
                                    const T* __restrict__ data, T* __restrict__ out) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    T s = T(0);
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) s = s + data[p];
    out[i] = s;
}

// out[i] = the reduction `op` (spgrad._cpu.REDUCE_*) of the stored values of line i, left to
// right, then with an implicit zero when with_zero and the line stores fewer than n_full
// entries; 0 for an empty line. One thread per line.
template <typename I, typename T>
__global__ void spgrad_csr_line_reduce(long long n_line, long long op, long long n_full,
                                       long long with_zero, const I* __restrict__ indptr,
                                       const T* __restrict__ data, T* __restrict__ out) {
    long long i = spgrad::global_thread();
    if (i >= n_line) return;
    I lo = indptr[i], hi = indptr[i + 1];
    if (lo == hi) {
        out[i] = T(0);
        return;
    }
    T acc = data[lo];
    for (I p = lo + 1; p < hi; ++p)
        if (!spgrad::keeps(op, acc, data[p])) acc = data[p];
    if (with_zero && (long long)(hi - lo) < n_full && !spgrad::keeps(op, acc, T(0))) acc = T(0);
    out[i] = acc;
}

// out[i] = the minor index of line i's maximum (op 0) or minimum (op 1), with SciPy's rules:
// the first stored extreme; unless explicit_, in a line that is not full, its first implicit
// zero when zero is larger (smaller), or equal and before the stored extreme; 0 for an empty
// line. The pattern is canonical. One thread per line.
template <typename I, typename T>
__global__ void spgrad_csr_line_argreduce(long long n_line, long long op, long long n_full,
                                          long long explicit_, const I* __restrict__ indptr,
                                          const I* __restrict__ indices,
                                          const T* __restrict__ data,
                                          long long* __restrict__ out) {
    long long i = spgrad::global_thread();
    if (i >= n_line) return;
    I lo = indptr[i], hi = indptr[i + 1];
    if (lo == hi) {
        out[i] = 0;
        return;
    }
    I best = lo;
    T acc = data[lo];
    for (I p = lo + 1; p < hi; ++p)
        if (!spgrad::keeps(op, acc, data[p])) {
            acc = data[p];
            best = p;
        }
    if (explicit_ || (long long)(hi - lo) == n_full || spgrad::ordered(acc, T(0), op == 0, true)) {
        out[i] = indices[best];
        return;
    }
    long long first_zero = hi - lo;  // the first position whose index is not its offset
    for (I p = lo; p < hi; ++p)
        if ((long long)indices[p] != (long long)(p - lo)) {
            first_zero = p - lo;
            break;
        }
    long long at = best - lo;
    out[i] = (spgrad::equal(acc, T(0)) && at < first_zero) ? at : first_zero;
}

// out[indices[p]] += data[p] (out zeroed by the launcher): one thread per entry, atomics.
template <typename I, typename T>
__global__ void spgrad_csr_col_sums(long long nnz, const I* __restrict__ indices,
                                    const T* __restrict__ data, T* __restrict__ out) {
    long long p = spgrad::global_thread();
    if (p >= nnz) return;
    spgrad::atomic_add(&out[indices[p]], data[p]);
}

// out[i * row_stride + indices[p] * col_stride] += data[p] (strides in elements, any layout):
// one thread per row, so duplicates of a row add in storage order.
template <typename I, typename T>
__global__ void spgrad_csr_todense(long long n_row, long long row_stride, long long col_stride,
                                   const I* __restrict__ indptr, const I* __restrict__ indices,
                                   const T* __restrict__ data, T* out) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) {
        T* o = out + i * row_stride + (long long)indices[p] * col_stride;
        *o = *o + data[p];
    }
}

// counts[i] = entries of row i with k_lo <= col - row <= k_hi: one thread per row.
template <typename I>
__global__ void spgrad_csr_band_count(long long n_row, long long k_lo, long long k_hi,
                                      const I* __restrict__ indptr,
                                      const I* __restrict__ indices, I* __restrict__ counts) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    I c = 0;
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) {
        long long d = (long long)indices[p] - i;
        if (d >= k_lo && d <= k_hi) ++c;
    }
    counts[i] = c;
}

// The kept entries of row i, in input order, from out_indptr[i] on: one thread per row.
template <typename I, typename T>
__global__ void spgrad_csr_band_fill(long long n_row, long long k_lo, long long k_hi,
                                     const I* __restrict__ indptr, const I* __restrict__ indices,
                                     const T* __restrict__ data,
                                     const I* __restrict__ out_indptr, I* __restrict__ out_indices,
                                     T* __restrict__ out_data) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    I q = out_indptr[i];
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) {
        long long d = (long long)indices[p] - i;
        if (d >= k_lo && d <= k_hi) {
            out_indices[q] = indices[p];
            out_data[q] = data[p];
            ++q;
        }
    }
}

// out[p] = sum over l of A[i, l] * B[j, l] for every mask entry p = (i, j): one thread per
// mask entry, each pair of entries of row i of A and row j of B with equal column multiplied
// (any order, duplicates summed, as by the CPU kernel; the order of the additions differs).
template <typename I, typename T>
__global__ void spgrad_csr_masked_dot(long long n_row, const I* __restrict__ mask_indptr,
                                      const I* __restrict__ mask_indices,
                                      const I* __restrict__ Ap, const I* __restrict__ Aj,
                                      const T* __restrict__ Ax, const I* __restrict__ Bp,
                                      const I* __restrict__ Bj, const T* __restrict__ Bx,
                                      const I* __restrict__ mask_rows, T* __restrict__ out) {
    long long p = spgrad::global_thread();
    if (p >= (long long)mask_indptr[n_row]) return;
    I i = mask_rows[p], j = mask_indices[p];
    T s = T(0);
    for (I a = Ap[i]; a < Ap[i + 1]; ++a) {
        I l = Aj[a];
        for (I b = Bp[j]; b < Bp[j + 1]; ++b)
            if (Bj[b] == l) s = s + Ax[a] * Bx[b];
    }
    out[p] = s;
}

// Number of entries in the union of row i of two canonical patterns: one thread per row.
template <typename I>
__global__ void spgrad_csr_union_count(long long n_row, const I* __restrict__ Ap,
                                       const I* __restrict__ Aj, const I* __restrict__ Bp,
                                       const I* __restrict__ Bj, I* __restrict__ counts) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    I a = Ap[i], a_end = Ap[i + 1], b = Bp[i], b_end = Bp[i + 1], c = 0;
    while (a < a_end || b < b_end) {
        if (b == b_end || (a < a_end && Aj[a] < Bj[b])) ++a;
        else if (a == a_end || Bj[b] < Aj[a]) ++b;
        else { ++a; ++b; }
        ++c;
    }
    counts[i] = c;
}

// The union of row i, from Cp[i] on, with each entry's position in A and in B (a_absent /
// b_absent where the entry is missing): one thread per row.
template <typename I>
__global__ void spgrad_csr_union_fill(long long n_row, long long a_absent, long long b_absent,
                                      const I* __restrict__ Ap, const I* __restrict__ Aj,
                                      const I* __restrict__ Bp, const I* __restrict__ Bj,
                                      const I* __restrict__ Cp, I* __restrict__ Cj,
                                      long long* __restrict__ a_pos,
                                      long long* __restrict__ b_pos) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    I a = Ap[i], a_end = Ap[i + 1], b = Bp[i], b_end = Bp[i + 1], c = Cp[i];
    while (a < a_end || b < b_end) {
        if (b == b_end || (a < a_end && Aj[a] < Bj[b])) {
            Cj[c] = Aj[a]; a_pos[c] = a; b_pos[c] = b_absent; ++a;
        } else if (a == a_end || Bj[b] < Aj[a]) {
            Cj[c] = Bj[b]; a_pos[c] = a_absent; b_pos[c] = b; ++b;
        } else {
            Cj[c] = Aj[a]; a_pos[c] = a; b_pos[c] = b; ++a; ++b;
        }
        ++c;
    }
}

// out[s] = data[start[s]] + ... + data[start[s + 1] - 1], in storage order (the runs of
// duplicates of a sorted CSR): one thread per run, so the sums equal the CPU kernel's bitwise.
template <typename I, typename T>
__global__ void spgrad_segment_sum(long long n_seg, const long long* __restrict__ start,
                                   const T* __restrict__ data, T* __restrict__ out) {
    long long s = spgrad::global_thread();
    if (s >= n_seg) return;
    T acc = data[start[s]];  // runs are never empty; starting from the first value keeps -0.0
    for (long long p = start[s] + 1; p < start[s + 1]; ++p) acc = acc + data[p];
    out[s] = acc;
}

// out[row[p] * row_stride + col[p] * col_stride] += data[p] (any strides, in elements): one
// thread per triplet, atomic additions (duplicates add in an order that may vary).
template <typename I, typename T>
__global__ void spgrad_coo_todense(long long nnz, long long row_stride, long long col_stride,
                                   const I* __restrict__ row, const I* __restrict__ col,
                                   const T* __restrict__ data, T* out) {
    long long p = spgrad::global_thread();
    if (p >= nnz) return;
    spgrad::atomic_add(out + (long long)row[p] * row_stride + (long long)col[p] * col_stride,
                       data[p]);
}

// y[i] += sum over diagonals d (in order) of data[d, j] * x[j], j = i + offsets[d], for the
// columns j < min(n_col, width) of the DIA storage: one thread per row.
template <typename I, typename T>
__global__ void spgrad_dia_matvec(long long n_row, long long n_col, long long n_diags,
                                  long long width, const I* __restrict__ offsets,
                                  const T* __restrict__ data, const T* __restrict__ x,
                                  T* __restrict__ y) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    long long last = n_col < width ? n_col : width;
    T s = y[i];
    for (long long d = 0; d < n_diags; ++d) {
        long long j = i + (long long)offsets[d];
        if (j >= 0 && j < last) s = s + data[d * width + j] * x[j];
    }
    y[i] = s;
}

// Output row k of a row gather: the entries of source row rows[k] (indices always; values and
// source positions when asked): one thread per output row.
template <typename I, typename T>
__global__ void spgrad_csr_row_gather(long long n, long long with_data, long long with_map,
                                      const I* __restrict__ indptr, const I* __restrict__ indices,
                                      const I* __restrict__ rows,
                                      const I* __restrict__ out_indptr,
                                      I* __restrict__ out_indices, const T* __restrict__ data,
                                      T* __restrict__ out_data, I* __restrict__ out_map) {
    long long k = spgrad::global_thread();
    if (k >= n) return;
    I start = indptr[rows[k]], stop = indptr[rows[k] + 1];
    I w = out_indptr[k] - start;
    for (I p = start; p < stop; ++p) {
        out_indices[w + p] = indices[p];
        if (with_data) out_data[w + p] = data[p];
        if (with_map) out_map[w + p] = p;
    }
}

// Merge row i of two canonical CSR matrices applying `op`, keeping nonzero results: with
// count_only, counts[i] = kept entries; else they are written from Cp[i] on. One thread per row.
template <typename I, typename T>
__global__ void spgrad_csr_binop_rows(long long n_row, long long op, long long count_only,
                                      const I* __restrict__ Ap, const I* __restrict__ Aj,
                                      const T* __restrict__ Ax, const I* __restrict__ Bp,
                                      const I* __restrict__ Bj, const T* __restrict__ Bx,
                                      const I* __restrict__ Cp, I* __restrict__ counts,
                                      I* __restrict__ Cj, T* __restrict__ Cx) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    I a = Ap[i], a_end = Ap[i + 1], b = Bp[i], b_end = Bp[i + 1];
    I c = count_only ? 0 : Cp[i];
    const T zero = T(0);
    while (a < a_end || b < b_end) {
        I j;
        T r;
        if (b == b_end || (a < a_end && Aj[a] < Bj[b])) {
            j = Aj[a]; r = spgrad::binop(op, Ax[a], zero); ++a;
        } else if (a == a_end || Bj[b] < Aj[a]) {
            j = Bj[b]; r = spgrad::binop(op, zero, Bx[b]); ++b;
        } else {
            j = Aj[a]; r = spgrad::binop(op, Ax[a], Bx[b]); ++a; ++b;
        }
        if (spgrad::nonzero(r)) {
            if (!count_only) { Cj[c] = j; Cx[c] = r; }
            ++c;
        }
    }
    if (count_only) counts[i] = c;
}

// Row r = iA * n_row_B + iB of kron(A, B), from Cp[r] on: for each entry of A's row iA (in
// order) and each entry of B's row iB (in order), the product. One thread per output row.
template <typename I, typename T>
__global__ void spgrad_csr_kron(long long n_row_A, long long n_row_B, long long n_col_B,
                                const I* __restrict__ Ap, const I* __restrict__ Aj,
                                const T* __restrict__ Ax, const I* __restrict__ Bp,
                                const I* __restrict__ Bj, const T* __restrict__ Bx,
                                const I* __restrict__ Cp, I* __restrict__ Cj,
                                T* __restrict__ Cx) {
    long long r = spgrad::global_thread();
    if (r >= n_row_A * n_row_B) return;
    long long iA = r / n_row_B, iB = r - iA * n_row_B;
    I pos = Cp[r];
    for (I ka = Ap[iA]; ka < Ap[iA + 1]; ++ka) {
        I off = (I)((long long)Aj[ka] * n_col_B);
        for (I kb = Bp[iB]; kb < Bp[iB + 1]; ++kb) {
            Cj[pos] = off + Bj[kb];
            Cx[pos] = Ax[ka] * Bx[kb];
            ++pos;
        }
    }
}

// Row i of the horizontal stack of n_blocks CSR blocks (concatenated arrays; block b's entries
// start at base[b] in them, its column indices shifted by col_offset[b]): one thread per row.
template <typename I, typename T>
__global__ void spgrad_csr_hstack(long long n_row, long long n_blocks,
                                  const I* __restrict__ col_offset,
                                  const I* __restrict__ indptr_cat,
                                  const I* __restrict__ indices_cat,
                                  const T* __restrict__ data_cat,
                                  const long long* __restrict__ base,
                                  const I* __restrict__ out_indptr, I* __restrict__ out_indices,
                                  T* __restrict__ out_data) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    long long stride = n_row + 1;
    I pos = out_indptr[i];
    for (long long b = 0; b < n_blocks; ++b) {
        long long start = indptr_cat[b * stride];
        for (long long k = indptr_cat[b * stride + i]; k < indptr_cat[b * stride + i + 1]; ++k) {
            long long src = base[b] + k - start;
            out_indices[pos] = indices_cat[src] + col_offset[b];
            out_data[pos] = data_cat[src];
            ++pos;
        }
    }
}

// Row i of a column selection, from out_indptr[i] on: each entry (i, j) yields one output
// entry per requested column drawn from source column j (col_order[col_offsets[j] ...]);
// values and source positions when asked. One thread per row.
template <typename I, typename T>
__global__ void spgrad_csr_column_select(long long n_row, long long with_data,
                                         long long with_map, const I* __restrict__ indptr,
                                         const I* __restrict__ indices,
                                         const I* __restrict__ col_offsets,
                                         const I* __restrict__ col_order,
                                         const I* __restrict__ out_indptr,
                                         I* __restrict__ out_indices, const T* __restrict__ data,
                                         T* __restrict__ out_data, I* __restrict__ out_map) {
    long long i = spgrad::global_thread();
    if (i >= n_row) return;
    I w = out_indptr[i];
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) {
        I j = indices[p];
        for (I q = col_offsets[j]; q < col_offsets[j + 1]; ++q) {
            out_indices[w] = col_order[q];
            if (with_data) out_data[w] = data[p];
            if (with_map) out_map[w] = p;
            ++w;
        }
    }
}

// Row r0 + k of the submatrix rows [r0, r1) x columns [c0, c1), columns shifted by -c0, from
// out_indptr[k] on; values and source positions when asked. One thread per output row.
template <typename I, typename T>
__global__ void spgrad_csr_submatrix(long long r0, long long r1, long long c0, long long c1,
                                     long long with_data, long long with_map,
                                     const I* __restrict__ indptr, const I* __restrict__ indices,
                                     const I* __restrict__ out_indptr,
                                     I* __restrict__ out_indices, const T* __restrict__ data,
                                     T* __restrict__ out_data, I* __restrict__ out_map) {
    long long k = spgrad::global_thread();
    if (k >= r1 - r0) return;
    long long i = r0 + k;
    I w = out_indptr[k];
    for (I p = indptr[i]; p < indptr[i + 1]; ++p) {
        long long j = indices[p];
        if (j >= c0 && j < c1) {
            out_indices[w] = (I)(j - c0);
            if (with_data) out_data[w] = data[p];
            if (with_map) out_map[w] = p;
            ++w;
        }
    }
}

namespace spgrad {
// First position of column j in indices[lo, hi) (binary search in a sorted row), or hi.
template <typename I>
__device__ __forceinline__ I first_in_row(const I* indices, I lo, I hi, I j, bool sorted_rows) {
    I end = hi;
    if (sorted_rows) {
        while (lo < hi) {
            I mid = lo + (hi - lo) / 2;
            if (indices[mid] < j) lo = mid + 1;
            else hi = mid;
        }
        return (lo < end && indices[lo] == j) ? lo : end;
    }
    for (I p = lo; p < hi; ++p)
        if (indices[p] == j) return p;
    return hi;
}
}  // namespace spgrad

// Scalar lookups of (rows[k], cols[k]), one thread per request. mode 0: counts[k] = number of
// entries there; 1: their positions to out_pos[offsets[k] ...]; 2: offsets[k] = the first
// position or -1, dup[k] = 1 when there are several.
template <typename I>
__global__ void spgrad_csr_lookup(long long n, long long mode, long long sorted_rows,
                                  const I* __restrict__ indptr, const I* __restrict__ indices,
                                  const I* __restrict__ rows, const I* __restrict__ cols,
                                  long long* __restrict__ counts,
                                  const long long* __restrict__ offsets,
                                  I* __restrict__ out_pos, long long* __restrict__ first,
                                  long long* __restrict__ dup) {
    long long k = spgrad::global_thread();
    if (k >= n) return;
    I j = cols[k], hi = indptr[rows[k] + 1];
    I p = spgrad::first_in_row(indices, indptr[rows[k]], hi, j, sorted_rows != 0);
    if (mode == 2) {
        first[k] = p < hi ? (long long)p : -1;
        long long d = 0;
        if (p < hi) {
            for (I q = p + 1; q < hi; ++q) {
                if (indices[q] == j) { d = 1; break; }
                if (sorted_rows) break;
            }
        }
        dup[k] = d;
        return;
    }
    long long c = 0, w = mode == 1 ? offsets[k] : 0;
    for (; p < hi; ++p) {
        if (indices[p] == j) {
            if (mode == 1) out_pos[w++] = p;
            ++c;
        } else if (sorted_rows) {
            break;
        }
    }
    if (mode == 0) counts[k] = c;
}

// out[k] = sum of the values stored at (rows[k], cols[k]), 0 when none: one thread per request.
template <typename I, typename T>
__global__ void spgrad_csr_lookup_values(long long n, long long sorted_rows,
                                         const I* __restrict__ indptr,
                                         const I* __restrict__ indices,
                                         const T* __restrict__ data, const I* __restrict__ rows,
                                         const I* __restrict__ cols, T* __restrict__ out) {
    long long k = spgrad::global_thread();
    if (k >= n) return;
    I j = cols[k], hi = indptr[rows[k] + 1];
    T acc = T(0);
    for (I p = spgrad::first_in_row(indices, indptr[rows[k]], hi, j, sorted_rows != 0); p < hi;
         ++p) {
        if (indices[p] == j) acc = acc + data[p];
        else if (sorted_rows) break;
    }
    out[k] = acc;
}

// SpGEMM expansion: the products of A entry p (row rows[p], column k = Aj[p]) with the entries
// of B's row k, written in occurrence order from offsets[p] on: their row, column and (with
// with_values) value. One thread per entry of A.
template <typename I, typename T>
__global__ void spgrad_spgemm_expand(long long nnz_A, long long with_values,
                                     const I* __restrict__ rows, const I* __restrict__ Aj,
                                     const T* __restrict__ Ax, const I* __restrict__ Bp,
                                     const I* __restrict__ Bj, const T* __restrict__ Bx,
                                     const long long* __restrict__ offsets,
                                     I* __restrict__ out_rows, I* __restrict__ out_cols,
                                     T* __restrict__ out_vals) {
    long long p = spgrad::global_thread();
    if (p >= nnz_A) return;
    I k = Aj[p];
    long long t = offsets[p];
    for (I q = Bp[k]; q < Bp[k + 1]; ++q, ++t) {
        out_rows[t] = rows[p];
        out_cols[t] = Bj[q];
        if (with_values) out_vals[t] = Ax[p] * Bx[q];
    }
}
