package limits_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/core/limits"
)

func TestDefault_IsValidAndComplete(t *testing.T) {
	if err := limits.Default().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, name := range limits.Names() {
		if v, ok := limits.Default().Get(name); !ok || v <= 0 {
			t.Errorf("%s: default %d", name, v)
		}
	}
	if (limits.Limits{}).WithDefaults() != limits.Default() {
		t.Fatal("the zero Limits does not mean the defaults")
	}
}

func TestValidate_RefusesValuesBeyondTheirBounds(t *testing.T) {
	for _, tc := range []struct {
		l    limits.Limits
		name string
	}{
		{limits.Limits{MaxStateBytes: limits.CeilingStateBytes + 1}, "max-state-bytes"},
		{limits.Limits{MaxEventBytes: limits.CeilingEventBytes + 1}, "max-event-bytes"},
		{limits.Limits{MaxProperties: -1}, "max-properties"},
		{limits.Limits{HeadWidth: 64, MaxParents: 64}, "head-width"},
	} {
		err := tc.l.Validate()
		if !errors.Is(err, limits.ErrConfig) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%+v: err = %v, want ErrConfig naming %s", tc.l, err, tc.name)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "release_year", "my field", strings.Repeat("x", 255), "ünïcode"} {
		if err := limits.ValidName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\x00", strings.Repeat("x", 256), "\xff"} {
		if err := limits.ValidName(bad); !errors.Is(err, limits.ErrInvalidName) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func ExampleLimits_Set() {
	l := limits.Default()
	if err := l.Set("max-state-bytes", "16MiB"); err != nil {
		fmt.Println(err)
	}
	fmt.Println(l.MaxStateBytes, l.Validate())
	fmt.Println(l.Set("max-state-bytes", "1GiB"), l.Validate() != nil)
	// Output:
	// 16777216 <nil>
	// <nil> true
}
