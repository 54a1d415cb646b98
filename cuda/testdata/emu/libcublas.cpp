// libcublas.cpp: the cuBLAS calls deepgo makes, on the host, with cuBLAS's
// column-major semantics and argument checks, for the cuda package's tests.
#include <cstdint>

static int math_mode;

extern "C" {

int cublasCreate_v2(void** h) {
	*h = (void*)0x3;
	return 0;
}
int cublasSetStream_v2(void* h, void* s) { return h == (void*)0x3 && s == (void*)0x2 ? 0 : 7; }
int cublasSetMathMode(void* h, int mode) {
	if (mode != 0 && mode != 1 && mode != 2 && mode != 3) return 7;
	math_mode = mode;
	return 0;
}
const char* cublasGetStatusName(int s) {
	switch (s) {
	case 0: return "CUBLAS_STATUS_SUCCESS";
	case 7: return "CUBLAS_STATUS_INVALID_VALUE";
	}
	return "CUBLAS_STATUS_UNKNOWN";
}
const char* cublasGetStatusString(int s) { return "emulated cuBLAS status"; }

int cublasSgemmStridedBatched(void* h, int ta, int tb, int m, int n, int k, const float* alpha,
		const float* A, int lda, long long sa, const float* B, int ldb, long long sb, const float* beta,
		float* C, int ldc, long long sc, int batch) {
	if (h != (void*)0x3 || (ta != 0 && ta != 1) || (tb != 0 && tb != 1)) return 7;
	if (m < 0 || n < 0 || k < 0 || batch < 0) return 7;
	int ra = ta == 0 ? m : k, rb = tb == 0 ? k : n;
	if (lda < (ra > 1 ? ra : 1) || ldb < (rb > 1 ? rb : 1) || ldc < (m > 1 ? m : 1)) return 7;
	for (int b = 0; b < batch; b++) {
		const float* a = A + b * sa;
		const float* bb = B + b * sb;
		float* c = C + b * sc;
		for (int j = 0; j < n; j++)
			for (int i = 0; i < m; i++) {
				double acc = 0;
				for (int l = 0; l < k; l++) {
					float x = ta == 0 ? a[i + (long long)l * lda] : a[l + (long long)i * lda];
					float y = tb == 0 ? bb[l + (long long)j * ldb] : bb[j + (long long)l * ldb];
					acc += (double)x * y;
				}
				float* p = &c[i + (long long)j * ldc];
				*p = *beta == 0.0f ? (float)(*alpha * acc) : (float)(*alpha * acc + (double)*beta * *p);
			}
	}
	return 0;
}

}  // extern "C"
