package tikv

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/ankurah/ankurah-go/core/storage"
)

// URLScheme is the scheme of the URLs OpenURL accepts.
const URLScheme = "tikv"

// ParseURL reads a storage URL of the form
//
//	tikv://pd1:2379,pd2:2379[?prefix=myapp&scan_batch=256&max_attempts=8]
//
// into the PD endpoints and the options it sets. Unknown parameters are
// errors, so a typo never silently falls back to a default.
func ParseURL(raw string) (pdAddrs []string, opts []Option, err error) {
	bad := func(format string, args ...any) ([]string, []Option, error) {
		return nil, nil, fmt.Errorf("%w: tikv: URL %q: %s", storage.ErrInvalid, raw, fmt.Sprintf(format, args...))
	}
	rest, ok := strings.CutPrefix(raw, URLScheme+"://")
	if !ok {
		return bad("want %s://pd-host:port[,pd-host:port…][?prefix=…]", URLScheme)
	}
	hosts, query, _ := strings.Cut(rest, "?")
	hosts = strings.TrimSuffix(hosts, "/")
	if hosts == "" {
		return bad("no PD address")
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" || strings.ContainsAny(h, "/@ ") {
			return bad("PD address %q is not host:port", h)
		}
		pdAddrs = append(pdAddrs, h)
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return bad("%v", err)
	}
	for name, vals := range params {
		v := vals[len(vals)-1]
		switch name {
		case "prefix":
			opts = append(opts, WithKeyPrefix(v))
		case "scan_batch", "max_attempts":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return bad("%s=%q is not a positive integer", name, v)
			}
			if name == "scan_batch" {
				opts = append(opts, WithScanBatchSize(n))
			} else {
				opts = append(opts, WithMaxAttempts(n))
			}
		default:
			return bad("unknown parameter %q (known: prefix, scan_batch, max_attempts)", name)
		}
	}
	return pdAddrs, opts, nil
}

// OpenURL opens the engine a tikv:// URL names (see ParseURL). Options
// given here apply after the URL's.
func OpenURL(ctx context.Context, raw string, opts ...Option) (*Engine, error) {
	addrs, urlOpts, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return Open(ctx, addrs, append(urlOpts, opts...)...)
}
