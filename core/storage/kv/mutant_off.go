//go:build !ankurah_mutants

package kv

// mutant is always mutNone outside mutation testing.
const mutant = mutNone
