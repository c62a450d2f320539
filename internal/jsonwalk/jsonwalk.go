// Package jsonwalk walks the top-level members of a JSON object by hand,
// without encoding/json's reflection or token machinery, for hot paths
// that only need a few members or the members' raw bytes.
//
// Precondition: the walking functions (Members, Unquote) assume their
// input is valid JSON, as checked by json.Valid beforehand. They do not
// validate it again; on input that json.Valid rejects they may return
// garbage or panic. Checking with json.Valid first (one pass, no
// allocation) and then walking is still far cheaper than decoding.
package jsonwalk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// SkipSpace returns the index of the first byte of b at or after i that is
// not JSON white space (space, tab, line feed, carriage return), or len(b).
// Unlike the other functions it has no precondition.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// Members calls fn, in order, for each top-level member of obj, a valid
// JSON object (json.Valid(obj) holds and its first non-space byte is '{';
// white space around it is allowed). rawKey is the member name as written,
// quotes and escapes included; key is the name decoded as encoding/json
// decodes it (Unquote); value is the raw member value, without surrounding
// white space. Duplicate names are passed on as they come. key and value
// alias obj unless the name has an escape or invalid UTF-8.
//
// Members stops at the first error fn returns and returns it. It returns
// an error of its own only if a member name fails to decode, which does
// not happen on valid JSON.
func Members(obj []byte, fn func(rawKey, key, value []byte) error) error {
	i := SkipSpace(obj, 0) // obj[i] == '{'
	for i = SkipSpace(obj, i+1); obj[i] != '}'; {
		kEnd := stringEnd(obj, i)
		rawKey := obj[i:kEnd]
		key, err := Unquote(rawKey)
		if err != nil {
			return fmt.Errorf("member name: %w", err)
		}
		i = SkipSpace(obj, SkipSpace(obj, kEnd)+1) // past the colon
		vEnd := valueEnd(obj, i)
		if err := fn(rawKey, key, obj[i:vEnd]); err != nil {
			return err
		}
		i = SkipSpace(obj, vEnd)
		if obj[i] == ',' {
			i = SkipSpace(obj, i+1)
		}
	}
	return nil
}

// Unquote decodes raw, one JSON string literal with its quotes, exactly as
// encoding/json decodes it into a string: escapes resolved, invalid UTF-8
// and lone surrogates replaced by U+FFFD. raw must be a string as
// json.Valid accepts it. Without an escape or invalid UTF-8 the result is
// raw without its quotes (no copy); otherwise it is a new slice built by
// json.Unmarshal.
func Unquote(raw []byte) ([]byte, error) {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return []byte(v), nil
}

// stringEnd returns the index just past the string that starts at b[i]
// (valid JSON only).
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// valueEnd returns the index just past the value that starts at b[i]
// (valid JSON only).
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
	default: // number, true, false, null
		j := i
		for j < len(b) && !isDelim(b[j]) {
			j++
		}
		return j
	}
}

// isDelim reports whether c ends a number or literal: a separator, a
// closing bracket or white space.
func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}
