package ws

import (
	"encoding/base64"
	"testing"
	"time"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestJWTExpiry(t *testing.T) {
	hdr := b64(`{"alg":"HS256","typ":"JWT"}`)
	sig := b64("signature")
	cases := []struct {
		name  string
		creds string
		want  time.Time // zero: not a JWT with exp
	}{
		{"exp", hdr + "." + b64(`{"sub":"alice","exp":1800000000}`) + "." + sig, time.Unix(1800000000, 0)},
		{"fractional exp", hdr + "." + b64(`{"exp":1800000000.5}`) + "." + sig, time.Unix(1800000000, 5e8)},
		{"padded parts", hdr + "=." + b64(`{"exp":1800000000}`) + "==." + sig, time.Unix(1800000000, 0)},
		{"empty signature", hdr + "." + b64(`{"exp":1800000000}`) + ".", time.Unix(1800000000, 0)},
		{"no exp", hdr + "." + b64(`{"sub":"alice"}`) + "." + sig, time.Time{}},
		{"exp not a number", hdr + "." + b64(`{"exp":"soon"}`) + "." + sig, time.Time{}},
		{"negative exp", hdr + "." + b64(`{"exp":-5}`) + "." + sig, time.Time{}},
		{"payload not JSON", hdr + "." + b64(`exp=1800000000`) + "." + sig, time.Time{}},
		{"payload an array", hdr + "." + b64(`[1800000000]`) + "." + sig, time.Time{}},
		{"two parts", hdr + "." + b64(`{"exp":1800000000}`), time.Time{}},
		{"four parts", hdr + "." + b64(`{"exp":1800000000}`) + "." + sig + "." + sig, time.Time{}},
		{"not base64url", hdr + ".{\"exp\":1800000000}." + sig, time.Time{}},
		{"opaque token", "s3cr3t-api-key", time.Time{}},
		{"empty", "", time.Time{}},
	}
	for _, c := range cases {
		got, ok := jwtExpiry([]byte(c.creds))
		if ok != !c.want.IsZero() || !got.Equal(c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, ok, c.want)
		}
	}
}

func TestRefreshDelay(t *testing.T) {
	cases := []struct {
		remaining time.Duration
		unchanged bool
		want      time.Duration
		ok        bool
	}{
		{time.Hour, false, time.Hour - 30*time.Second, true}, // exp − 30 s is later than 90%
		{5 * time.Minute, false, 270 * time.Second, true},    // the two agree
		{time.Minute, false, 54 * time.Second, true},         // 90% is later
		{10 * time.Second, false, 9 * time.Second, true},
		{0, false, 0, true}, // expired: at once
		{-time.Minute, false, 0, true},
		{-time.Minute, true, 0, false},                    // expired and unchanged: wait for the server
		{500 * time.Millisecond, true, time.Second, true}, // unchanged: not sooner than a second
		{time.Hour, true, time.Hour - 30*time.Second, true},
	}
	for _, c := range cases {
		got, ok := refreshDelay(c.remaining, c.unchanged)
		if got != c.want || ok != c.ok {
			t.Errorf("refreshDelay(%v, %v) = %v %v, want %v %v", c.remaining, c.unchanged, got, ok, c.want, c.ok)
		}
	}
}
