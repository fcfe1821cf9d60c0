package storageplugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ankurah/ankurah-go/core/storage"
)

// Errors of this package, tested with errors.Is. Engine errors keep their
// storage sentinels across the boundary (storage.ErrNotFound, …).
var (
	// ErrUnavailable: the plugin process is gone (crashed, killed, exited)
	// or does not answer; reopen the engine to start a fresh process.
	ErrUnavailable = errors.New("storageplugin: plugin unavailable")
	// ErrIncompatible: the plugin speaks no protocol version this host speaks.
	ErrIncompatible = errors.New("storageplugin: incompatible plugin")
	// ErrProtocol: the plugin sent something the protocol does not allow
	// (bytes that do not decode, an unknown error reason).
	ErrProtocol = errors.New("storageplugin: protocol error")
)

// ErrorDomain is the domain of the google.rpc.ErrorInfo detail that carries
// a storage error's reason across the boundary.
const ErrorDomain = "storage.ankurah.dev"

// The storage sentinels, their reason strings and gRPC codes. A plugin in
// another language may send only the code; the reason wins when present.
var sentinels = []struct {
	err    error
	reason string
	code   codes.Code
}{
	{storage.ErrNotFound, "NOT_FOUND", codes.NotFound},
	{storage.ErrConflict, "CONFLICT", codes.Aborted},
	{storage.ErrClosed, "CLOSED", codes.FailedPrecondition},
	{storage.ErrInvalid, "INVALID", codes.InvalidArgument},
	{storage.ErrFormat, "FORMAT", codes.DataLoss},
}

// toStatus turns an engine error into a gRPC status error on the plugin side.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			st := status.New(s.code, err.Error())
			if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: s.reason, Domain: ErrorDomain}); derr == nil {
				st = d
			}
			return st.Err()
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

// pluginError is an error that crossed the boundary: its message is the
// plugin's, and errors.Is finds the storage sentinel it stood for.
type pluginError struct {
	msg      string
	sentinel error
}

func (e *pluginError) Error() string { return e.msg }
func (e *pluginError) Unwrap() error { return e.sentinel }

// fromStatus turns an error of a gRPC call on the host side back into what
// the engine returned, or into a transport error that names the call.
func (c *hostEngine) fromStatus(ctx context.Context, call string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("storageplugin: %s: %w", call, err)
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.Domain != ErrorDomain {
			continue
		}
		for _, s := range sentinels {
			if s.reason == info.Reason {
				return &pluginError{msg: st.Message(), sentinel: s.err}
			}
		}
		return fmt.Errorf("%w: %s: unknown error reason %q: %s", ErrProtocol, call, info.Reason, st.Message())
	}
	for _, s := range sentinels {
		if s.code == st.Code() {
			return &pluginError{msg: st.Message(), sentinel: s.err}
		}
	}
	switch st.Code() {
	case codes.DeadlineExceeded, codes.Canceled:
		if dl, ok := ctx.Deadline(); ok && ctx.Err() == nil && time.Until(dl) < time.Second {
			// The plugin's copy of the deadline (sent along with the call)
			// fired a moment before ours: report it as ours.
			<-ctx.Done()
		}
		if ctx.Err() != nil {
			return fmt.Errorf("storageplugin: %s: plugin %s did not answer in time: %w", call, c.path, context.Cause(ctx))
		}
		return fmt.Errorf("storageplugin: %s: %s", call, st.Message())
	case codes.Unavailable:
		return c.unavailable(call, st.Message())
	case codes.Unimplemented:
		return fmt.Errorf("%w: %s: plugin %s does not implement it: %s", ErrProtocol, call, c.path, st.Message())
	}
	if c.client.Exited() {
		return c.unavailable(call, st.Message())
	}
	return fmt.Errorf("storageplugin: %s: %s", call, st.Message())
}
