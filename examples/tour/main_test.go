package main

import "testing"

// TestTourRuns runs the README's tour end to end.
func TestTourRuns(t *testing.T) { main() }
