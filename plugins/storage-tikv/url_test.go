package tikv_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/ankurah/ankurah-go/core/storage"
	tikv "github.com/ankurah/ankurah-go/plugins/storage-tikv"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url   string
		addrs []string
		opts  int
		ok    bool
	}{
		{"tikv://pd1:2379", []string{"pd1:2379"}, 0, true},
		{"tikv://pd1:2379,pd2:2379/", []string{"pd1:2379", "pd2:2379"}, 0, true},
		{"tikv://10.0.0.1:2379?prefix=myapp&scan_batch=64&max_attempts=3", []string{"10.0.0.1:2379"}, 3, true},
		{"tikv://", nil, 0, false},
		{"bolt:///tmp/x", nil, 0, false},
		{"tikv://pd1:2379,,pd2:2379", nil, 0, false},
		{"tikv://pd1:2379?prefx=a", nil, 0, false},
		{"tikv://pd1:2379?scan_batch=0", nil, 0, false},
		{"tikv://pd1:2379?max_attempts=many", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			addrs, opts, err := tikv.ParseURL(tt.url)
			if !tt.ok {
				if !errors.Is(err, storage.ErrInvalid) {
					t.Fatalf("ParseURL: %v, want storage.ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if !slices.Equal(addrs, tt.addrs) || len(opts) != tt.opts {
				t.Errorf("got %v and %d options, want %v and %d", addrs, len(opts), tt.addrs, tt.opts)
			}
		})
	}
}
