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
	// and is being restarted, or could not be. It wraps
	// storage.ErrUnavailable: the call may succeed if retried later.
	ErrUnavailable error = &wrapped{"storageplugin: plugin unavailable", storage.ErrUnavailable}
	// ErrIncompatible: the plugin speaks no protocol version this host speaks.
	ErrIncompatible = errors.New("storageplugin: incompatible plugin")
	// ErrProtocol: the plugin sent something the protocol does not allow
	// (bytes that do not decode, an unknown error reason).
	ErrProtocol = errors.New("storageplugin: protocol error")
)

// wrapped is a sentinel that is also a more general one.
type wrapped struct {
	msg    string
	parent error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.parent }

// ErrorDomain is the domain of the google.rpc.ErrorInfo detail that carries
// a storage error's reason across the boundary.
const ErrorDomain = "storage.ankurah.dev"

// The storage sentinels, their reason strings and gRPC codes, and the
// protocol version that added them (a plugin sends a host of version 1 only
// the reasons it knows). A plugin in another language may send only the
// code; the reason wins when present. UNAVAILABLE is also the code of a
// broken connection, so only its reason makes it the engine's error.
var sentinels = []struct {
	err    error
	reason string
	code   codes.Code
	since  int
}{
	{storage.ErrNotFound, "NOT_FOUND", codes.NotFound, 1},
	{storage.ErrConflict, "CONFLICT", codes.Aborted, 1},
	{storage.ErrClosed, "CLOSED", codes.FailedPrecondition, 1},
	{storage.ErrInvalid, "INVALID", codes.InvalidArgument, 1},
	{storage.ErrFormat, "FORMAT", codes.DataLoss, 1},
	{storage.ErrUnavailable, "UNAVAILABLE", codes.Unavailable, 2},
	{storage.ErrFeedGap, "FEED_GAP", codes.OutOfRange, 2},
}

// toStatus turns an engine error into a gRPC status error on the plugin
// side, for a host speaking protocol version.
func toStatus(err error, version int) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinels {
		if s.since <= version && errors.Is(err, s.err) {
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

// fromStatus turns an error of a gRPC call to process p back into what the
// engine returned, or into a transport error that names the call; a call
// that failed because the process died starts healing.
func (e *hostEngine) fromStatus(p *process, ctx context.Context, call string, err error) error {
	err = fromStatus(e.path, p, ctx, call, err)
	if errors.Is(err, ErrUnavailable) && p.client.Exited() {
		e.lost(p)
	}
	return err
}

// fromStatus is hostEngine.fromStatus for the plugin at path.
func fromStatus(path string, p *process, ctx context.Context, call string, err error) error {
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
		if s.code == st.Code() && s.code != codes.Unavailable {
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
			return fmt.Errorf("storageplugin: %s: plugin %s did not answer in time: %w", call, path, context.Cause(ctx))
		}
		return fmt.Errorf("storageplugin: %s: %s", call, st.Message())
	case codes.Unavailable:
		return unavailable(path, p, call, st.Message())
	case codes.Unimplemented:
		return fmt.Errorf("%w: %s: plugin %s does not implement it: %s", ErrProtocol, call, path, st.Message())
	}
	if p.client.Exited() {
		return unavailable(path, p, call, st.Message())
	}
	return fmt.Errorf("storageplugin: %s: %s", call, st.Message())
}

// unavailable is the error of a call that failed because the connection to
// the plugin broke.
func unavailable(path string, p *process, call, detail string) error {
	if p.client.Exited() {
		detail = "the plugin process has exited (" + detail + "); restarting it, retry later"
	}
	return fmt.Errorf("%w: %s: %s: %s", ErrUnavailable, call, path, detail)
}
