//go:build amd64

#include "textflag.h"

// func vecAxpyAVX2(a float32, x, y *float32, n int)
// y[i] += a·x[i] for i < n, with AVX2 and FMA.
TEXT ·vecAxpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS a+0(FP), Y0
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX

axpy32:
	CMPQ CX, $32
	JL   axpy8
	VMOVUPS (DI), Y1
	VMOVUPS 32(DI), Y2
	VMOVUPS 64(DI), Y3
	VMOVUPS 96(DI), Y4
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VFMADD231PS 64(SI), Y0, Y3
	VFMADD231PS 96(SI), Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  axpy32

axpy8:
	CMPQ CX, $8
	JL   axpy1
	VMOVUPS (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  axpy8

axpy1:
	CMPQ CX, $0
	JE   axpydone
	VMOVSS (DI), X1
	VFMADD231SS (SI), X0, X1
	VMOVSS X1, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  axpy1

axpydone:
	VZEROUPPER
	RET

// func vecDotAVX2(x, y *float32, n int) float32
// Σ x[i]·y[i] for i < n, with AVX2 and FMA (four vector accumulators).
TEXT ·vecDotAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4

dot32:
	CMPQ CX, $32
	JL   dot8
	VMOVUPS (SI), Y5
	VMOVUPS 32(SI), Y6
	VMOVUPS 64(SI), Y7
	VMOVUPS 96(SI), Y8
	VFMADD231PS (DI), Y5, Y1
	VFMADD231PS 32(DI), Y6, Y2
	VFMADD231PS 64(DI), Y7, Y3
	VFMADD231PS 96(DI), Y8, Y4
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  dot32

dot8:
	CMPQ CX, $8
	JL   dotreduce
	VMOVUPS (SI), Y5
	VFMADD231PS (DI), Y5, Y1
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  dot8

dotreduce:
	VADDPS Y2, Y1, Y1
	VADDPS Y4, Y3, Y3
	VADDPS Y3, Y1, Y1
	VEXTRACTF128 $1, Y1, X2
	VADDPS X2, X1, X1
	VHADDPS X1, X1, X1
	VHADDPS X1, X1, X1

dot1:
	CMPQ CX, $0
	JE   dotdone
	VMOVSS (SI), X5
	VFMADD231SS (DI), X5, X1
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JMP  dot1

dotdone:
	VMOVSS X1, ret+24(FP)
	VZEROUPPER
	RET

// func dwPlaneAVX2(out *float32, outStride, rows, n int, src *float32, srcStride int, w *float32, kh, kw, dh, dw int, bias float32)
// One plane of a stride-1 depthwise convolution over a zero-padded input:
// out[r·outStride + i] = bias + Σ_{a<kh, b<kw} w[a·kw + b]·src[(r + a·dh)·srcStride + i + b·dw]
// for r < rows and i < n, with AVX2 and FMA (strides in floats, kh, kw ≥ 1).
TEXT ·dwPlaneAVX2(SB), NOSPLIT, $0-92
	MOVQ out+0(FP), DI
	MOVQ rows+16(FP), R9
	MOVQ src+32(FP), SI
	MOVQ srcStride+40(FP), R11
	MOVQ dh+72(FP), AX
	IMULQ AX, R11
	SHLQ $2, R11
	MOVQ dw+80(FP), R12
	SHLQ $2, R12
	VBROADCASTSS bias+88(FP), Y15

dwrow:
	TESTQ R9, R9
	JZ    dwdone
	MOVQ  n+24(FP), CX
	MOVQ  DI, R13
	MOVQ  SI, R14

dw32:
	CMPQ CX, $32
	JL   dw8
	VMOVAPS Y15, Y0
	VMOVAPS Y15, Y1
	VMOVAPS Y15, Y2
	VMOVAPS Y15, Y3
	MOVQ w+48(FP), DX
	MOVQ R14, BX
	MOVQ kh+56(FP), AX

dw32kh:
	MOVQ BX, R10
	MOVQ kw+64(FP), R8

dw32kw:
	VBROADCASTSS (DX), Y4
	VFMADD231PS (R10), Y4, Y0
	VFMADD231PS 32(R10), Y4, Y1
	VFMADD231PS 64(R10), Y4, Y2
	VFMADD231PS 96(R10), Y4, Y3
	ADDQ R12, R10
	ADDQ $4, DX
	DECQ R8
	JNZ  dw32kw
	ADDQ R11, BX
	DECQ AX
	JNZ  dw32kh
	VMOVUPS Y0, (R13)
	VMOVUPS Y1, 32(R13)
	VMOVUPS Y2, 64(R13)
	VMOVUPS Y3, 96(R13)
	ADDQ $128, R13
	ADDQ $128, R14
	SUBQ $32, CX
	JMP  dw32

dw8:
	CMPQ CX, $8
	JL   dw1
	VMOVAPS Y15, Y0
	MOVQ w+48(FP), DX
	MOVQ R14, BX
	MOVQ kh+56(FP), AX

dw8kh:
	MOVQ BX, R10
	MOVQ kw+64(FP), R8

dw8kw:
	VBROADCASTSS (DX), Y4
	VFMADD231PS (R10), Y4, Y0
	ADDQ R12, R10
	ADDQ $4, DX
	DECQ R8
	JNZ  dw8kw
	ADDQ R11, BX
	DECQ AX
	JNZ  dw8kh
	VMOVUPS Y0, (R13)
	ADDQ $32, R13
	ADDQ $32, R14
	SUBQ $8, CX
	JMP  dw8

dw1:
	TESTQ CX, CX
	JZ    dwrowend
	VMOVAPS X15, X0
	MOVQ w+48(FP), DX
	MOVQ R14, BX
	MOVQ kh+56(FP), AX

dw1kh:
	MOVQ BX, R10
	MOVQ kw+64(FP), R8

dw1kw:
	VMOVSS (DX), X4
	VFMADD231SS (R10), X4, X0
	ADDQ R12, R10
	ADDQ $4, DX
	DECQ R8
	JNZ  dw1kw
	ADDQ R11, BX
	DECQ AX
	JNZ  dw1kh
	VMOVSS X0, (R13)
	ADDQ $4, R13
	ADDQ $4, R14
	DECQ CX
	JMP  dw1

dwrowend:
	MOVQ outStride+8(FP), AX
	SHLQ $2, AX
	ADDQ AX, DI
	MOVQ srcStride+40(FP), AX
	SHLQ $2, AX
	ADDQ AX, SI
	DECQ R9
	JMP  dwrow

dwdone:
	VZEROUPPER
	RET
