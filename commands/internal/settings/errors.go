package settings

import (
	"fmt"
	"strings"
)

// Error is a usage error: misuse the user must fix, found before anything
// is contacted. jab prints it as "jab: error: …", then its Hint as
// "jab: hint: …", and exits 2.
type Error struct {
	err  error
	Hint string // "" for none
}

// Errorf formats the error as fmt.Errorf does, so an error given with %w
// stays visible to errors.Is and errors.As.
func Errorf(hint, format string, args ...any) error {
	return &Error{err: fmt.Errorf(format, args...), Hint: hint}
}

func (e *Error) Error() string { return e.err.Error() }
func (e *Error) Unwrap() error { return e.err }

// shellQuote quotes a path for a hint the user may paste into a shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./~+,:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
