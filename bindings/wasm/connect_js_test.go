//go:build js

package main

import (
	"errors"
	"slices"
	"syscall/js"
	"testing"
)

func TestServerURLs(t *testing.T) {
	arr := func(xs ...any) js.Value { return jsArray.New(xs...) }
	for _, tt := range []struct {
		name string
		in   js.Value
		want []string
	}{
		{"one URL", js.ValueOf("ws://a/ws"), []string{"ws://a/ws"}},
		{"several, in order", arr("ws://a/ws", "wss://b/ws", "ws://c/ws"), []string{"ws://a/ws", "wss://b/ws", "ws://c/ws"}},
	} {
		got, err := serverURLs(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: serverURLs = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	for _, tt := range []struct {
		name string
		in   js.Value
	}{
		{"missing", js.Undefined()},
		{"a number", js.ValueOf(3)},
		{"an empty array", arr()},
		{"an array holding a number", arr("ws://a/ws", 3)},
		{"an empty URL", arr("ws://a/ws", "")},
	} {
		if _, err := serverURLs(tt.in); !errors.Is(err, errInvalidArg) {
			t.Errorf("%s: serverURLs error %v, want errInvalidArg", tt.name, err)
		}
	}
}
