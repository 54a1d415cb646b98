package ssvep

import "fmt"

// fmtPanic formats a panic message naming the function.
func fmtPanic(fn, format string, args ...any) string {
	return "ssvep: " + fn + ": " + fmt.Sprintf(format, args...)
}
