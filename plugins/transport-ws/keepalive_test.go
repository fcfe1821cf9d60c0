//go:build !js

package ws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ankurah/ankurah-go/core/transport"
)

// fakeClock is a keepalive clock that moves only when a test advances it.
type fakeClock struct{ t atomic.Int64 }

func (f *fakeClock) now() int64              { return f.t.Load() }
func (f *fakeClock) advance(d time.Duration) { f.t.Add(int64(d)) }

// driven is a keepalive the test drives: the production windows (ping every
// 15 s, give up after 45 s of silence), on a clock that moves only when the
// test says, checked only when the test says. Nothing below depends on how
// fast anything runs.
type driven struct {
	clock *fakeClock
	ticks chan time.Time
	ka    keepaliveConfig
}

func newDriven(clock *fakeClock) *driven {
	d := &driven{clock: clock, ticks: make(chan time.Time)}
	d.ka = defaultKeepalive
	d.ka.clock = clock.now
	d.ka.ticks = d.ticks
	return d
}

// check runs one keepalive check on c and waits for it to finish (the
// second tick is taken only once the first check is done). It reports
// false if the keepalive has ended (c was closed).
func (d *driven) check(t *testing.T, c *conn) bool {
	t.Helper()
	for i := 0; i < 2; i++ {
		select {
		case d.ticks <- time.Time{}:
		case <-c.done:
			return false
		case <-time.After(10 * time.Second):
			t.Fatal("keepalive took no tick within 10s")
		}
	}
	return true
}

// waitHeard waits until c has had a sign of life at the clock's current time.
func waitHeard(t *testing.T, c *conn, clock *fakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.live.last.Load() < clock.now() {
		if time.Now().After(deadline) {
			t.Fatal("no sign of life within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// pipeListener serves HTTP over in-memory connections whose each direction
// buffers at most pipeBuffer bytes: a writer runs at most that far ahead of
// its reader (no kernel buffer parks a whole large message, and no TCP timer
// stalls a small window), so a slow reader really slows its writer.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

const pipeBuffer = 16 << 10

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	ab, ba := newPipeBuf(), newPipeBuf()
	select {
	case l.conns <- &pipeEnd{r: ba, w: ab}:
		return &pipeEnd{r: ab, w: ba}, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pipeBuf is one direction of a pipe: a bounded byte queue with deadlines
// for its reader and its writer (net/http's hijack interrupts a read with a
// deadline in the past).
type pipeBuf struct {
	mu       sync.Mutex
	cond     *sync.Cond
	data     []byte
	closed   bool
	deadline [2]time.Time // read, write
}

func newPipeBuf() *pipeBuf {
	b := &pipeBuf{}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *pipeBuf) setDeadline(which int, t time.Time) {
	b.mu.Lock()
	b.deadline[which] = t
	b.cond.Broadcast()
	b.mu.Unlock()
	if d := time.Until(t); !t.IsZero() && d > 0 {
		time.AfterFunc(d, func() { b.mu.Lock(); b.cond.Broadcast(); b.mu.Unlock() })
	}
}

func (b *pipeBuf) expired(which int) bool {
	t := b.deadline[which]
	return !t.IsZero() && !time.Now().Before(t)
}

func (b *pipeBuf) write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for len(p) > 0 {
		for !b.closed && !b.expired(1) && len(b.data) >= pipeBuffer {
			b.cond.Wait()
		}
		if b.closed {
			return n, net.ErrClosed
		}
		if b.expired(1) {
			return n, os.ErrDeadlineExceeded
		}
		k := min(len(p), pipeBuffer-len(b.data))
		b.data = append(b.data, p[:k]...)
		p, n = p[k:], n+k
		b.cond.Broadcast()
	}
	return n, nil
}

func (b *pipeBuf) read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.closed && !b.expired(0) && len(b.data) == 0 {
		b.cond.Wait()
	}
	if len(b.data) == 0 {
		if b.closed {
			return 0, io.EOF
		}
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	b.cond.Broadcast()
	return n, nil
}

func (b *pipeBuf) close() {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

// pipeEnd is one end of a pipe.
type pipeEnd struct{ r, w *pipeBuf }

func (e *pipeEnd) Read(p []byte) (int, error)  { return e.r.read(p) }
func (e *pipeEnd) Write(p []byte) (int, error) { return e.w.write(p) }
func (e *pipeEnd) Close() error                { e.r.close(); e.w.close(); return nil }
func (e *pipeEnd) LocalAddr() net.Addr         { return pipeAddr{} }
func (e *pipeEnd) RemoteAddr() net.Addr        { return pipeAddr{} }
func (e *pipeEnd) SetDeadline(t time.Time) error {
	e.r.setDeadline(0, t)
	e.w.setDeadline(1, t)
	return nil
}
func (e *pipeEnd) SetReadDeadline(t time.Time) error  { e.r.setDeadline(0, t); return nil }
func (e *pipeEnd) SetWriteDeadline(t time.Time) error { e.w.setDeadline(1, t); return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// withPeer serves one connection of this package (the server end, with
// keepalive ka) and dials it with a bare websocket client that never
// answers pings and runs no keepalive of its own.
func withPeer(t *testing.T, ka keepaliveConfig) (*conn, *websocket.Conn) {
	t.Helper()
	accepted := make(chan *conn, 1)
	ln := newPipeListener()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		live := newLiveness(ka.now())
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OnPingReceived: live.onPing, OnPongReceived: live.onPong})
		if err != nil {
			t.Error(err)
			return
		}
		accepted <- newConn(c, live, ka, "server")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peer, _, err := websocket.Dial(ctx, "ws://pipe/", &websocket.DialOptions{
		HTTPClient:     &http.Client{Transport: &http.Transport{DialContext: ln.dial}},
		OnPingReceived: func(context.Context, []byte) bool { return false }, // never pong
	})
	if err != nil {
		t.Fatal(err)
	}
	peer.SetReadLimit(-1)
	c := <-accepted
	t.Cleanup(func() { peer.CloseNow(); c.Close() })
	return c, peer
}

// withPair is two connections of this package, server end and client end.
func withPair(t *testing.T, ka, cka keepaliveConfig) (server, client *conn) {
	t.Helper()
	accepted := make(chan *conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		live := newLiveness(ka.now())
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OnPingReceived: live.onPing, OnPongReceived: live.onPong})
		if err != nil {
			t.Error(err)
			return
		}
		accepted <- newConn(c, live, ka, "server")
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	live := newLiveness(cka.now())
	wc, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), dialOptions(live))
	if err != nil {
		t.Fatal(err)
	}
	client = newConn(wc, live, cka, "client")
	server = <-accepted
	t.Cleanup(func() { // both at once, so each close handshake is answered
		done := make(chan struct{})
		go func() { server.Close(); close(done) }()
		client.Close()
		<-done
	})
	return server, client
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A peer that answers no ping but keeps sending one long message, slowly,
// stays connected for as long as the message takes, many keepalive
// timeouts: every fragment that arrives is a sign of life.
func TestKeepalive_LongReceiveWithoutPongsStaysUp(t *testing.T) {
	ctx := testCtx(t)
	clock := &fakeClock{}
	d := newDriven(clock)
	c, peer := withPeer(t, d.ka)
	const pieces, size = 24, 4 << 10
	want := bytes.Repeat([]byte("0123456789abcdef"), pieces*size/16)
	next := make(chan int)
	go func() {
		w, err := peer.Writer(ctx, websocket.MessageBinary)
		if err != nil {
			t.Error(err)
			return
		}
		for i := range next {
			if _, err := w.Write(want[i*size : (i+1)*size]); err != nil {
				t.Error(err)
				return
			}
		}
		if err := w.Close(); err != nil {
			t.Error(err)
		}
		if err := peer.Write(ctx, websocket.MessageBinary, []byte("after")); err != nil {
			t.Error(err)
		}
	}()
	got := make(chan []byte, 1)
	go func() {
		f, err := c.Recv(ctx)
		if err != nil {
			t.Errorf("long receive from a peer that never pongs: %v", err)
		}
		got <- f
	}()
	for i := 0; i < pieces; i++ {
		// 30 s pass with nothing from the peer: a ping goes out, unanswered.
		clock.advance(30 * time.Second)
		if !d.check(t, c) {
			t.Fatalf("closed during piece %d (%d s into the message)", i, 30*(i+1))
		}
		next <- i // then a piece arrives
		waitHeard(t, c, clock)
		d.check(t, c)
	}
	close(next)
	if f := <-got; !bytes.Equal(f, want) {
		t.Fatalf("got %d bytes, want %d", len(f), len(want))
	}
	if f, err := c.Recv(ctx); err != nil || string(f) != "after" {
		t.Fatalf("after the long message: %q, %v", f, err)
	}
}

// Time this end spends away from Recv (busy with what it read) is not the
// peer's silence: a connection nobody reads is not closed, and what the
// peer sent meanwhile is there when Recv is called again.
func TestKeepalive_BusyReaderIsNotDisconnected(t *testing.T) {
	ctx := testCtx(t)
	clock := &fakeClock{}
	d := newDriven(clock)
	c, peer := withPeer(t, d.ka)
	if err := peer.Write(ctx, websocket.MessageBinary, []byte("request")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ { // "processing" the request for 5 minutes, not reading
		clock.advance(30 * time.Second)
		if !d.check(t, c) {
			t.Fatalf("closed %d s into a pause in reading", 30*(i+1))
		}
	}
	if err := peer.Write(ctx, websocket.MessageBinary, []byte("next")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Recv(ctx); err != nil || string(got) != "next" {
		t.Fatalf("after a long pause in reading: %q, %v", got, err)
	}
}

// Writing a long message to a slow reader that answers no ping does not get
// the connection closed while a Recv waits beside it: every fragment the
// network accepts is a sign of life, and no ping waits behind the message.
func TestKeepalive_LongSendToSlowReaderStaysUp(t *testing.T) {
	ctx := testCtx(t)
	clock := &fakeClock{}
	d := newDriven(clock)
	c, peer := withPeer(t, d.ka)
	recvd := make(chan error, 1)
	go func() {
		f, err := c.Recv(ctx)
		if err == nil && string(f) != "got it" {
			err = errors.New("unexpected frame " + string(f))
		}
		recvd <- err
	}()
	want := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 128<<10) // 1 MiB
	sent := make(chan error, 1)
	go func() { sent <- c.Send(ctx, want) }()
	_, r, err := peer.Reader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	// Each step, 30 s pass and then the peer reads 48 KiB: at least 32 KiB
	// pushed by our Send since the clock moved, so at least one fragment
	// completed then.
	buf := make([]byte, 48<<10)
	for step := 0; ; step++ {
		clock.advance(30 * time.Second)
		if !d.check(t, c) {
			t.Fatalf("closed %d s into the send", 30*(step+1))
		}
		n, err := io.ReadFull(r, buf)
		got = append(got, buf[:n]...)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		waitHeard(t, c, clock)
		d.check(t, c)
	}
	if err := <-sent; err != nil {
		t.Fatalf("long send to a slow reader: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("peer got %d bytes, want %d", len(got), len(want))
	}
	if err := peer.Write(ctx, websocket.MessageBinary, []byte("got it")); err != nil {
		t.Fatal(err)
	}
	if err := <-recvd; err != nil {
		t.Fatalf("Recv beside the long send: %v", err)
	}
}

// A peer from which nothing at all arrives is closed, once the timeout has
// passed, with a reason that both ends see.
func TestKeepalive_SilentPeerIsClosedWithReason(t *testing.T) {
	ctx := testCtx(t)
	clock := &fakeClock{}
	d := newDriven(clock)
	c, peer := withPeer(t, d.ka)
	peerErr := make(chan error, 1)
	go func() {
		_, _, err := peer.Read(ctx) // reads, but never pongs nor sends
		peerErr <- err
	}()
	recvErr := make(chan error, 1)
	go func() { _, err := c.Recv(ctx); recvErr <- err }()
	waitReading(t, c)
	clock.advance(44 * time.Second)
	if !d.check(t, c) {
		t.Fatal("closed before the timeout")
	}
	clock.advance(time.Second)
	d.check(t, c)
	err := <-recvErr
	if !errors.Is(err, transport.ErrClosed) || !strings.Contains(err.Error(), "closed by us: keepalive: nothing heard from the peer for 45s (status 4000)") {
		t.Fatalf("Recv: %v, want ErrClosed naming the keepalive", err)
	}
	err = <-peerErr
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != StatusKeepaliveTimeout || !strings.Contains(ce.Reason, "keepalive: nothing heard from the peer for 45s") {
		t.Fatalf("the peer read %v, want status %d with the keepalive's reason", err, StatusKeepaliveTimeout)
	}
}

// waitReading waits until a Recv is in progress on c.
func waitReading(t *testing.T, c *conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.live.reading.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Recv never started")
		}
		time.Sleep(time.Millisecond)
	}
}

// Two ends of this package keep an idle connection up: each pings the
// quiet other and hears its pings and pongs.
func TestKeepalive_IdlePairStaysUp(t *testing.T) {
	ctx := testCtx(t)
	clock := &fakeClock{}
	ds, dc := newDriven(clock), newDriven(clock)
	server, client := withPair(t, ds.ka, dc.ka)
	recvd := make(chan error, 2)
	go func() { _, err := server.Recv(ctx); recvd <- err }()
	go func() { _, err := client.Recv(ctx); recvd <- err }()
	waitReading(t, server)
	waitReading(t, client)
	for i := 0; i < 10; i++ { // five minutes of nothing but keepalive
		clock.advance(15 * time.Second)
		if !ds.check(t, server) || !dc.check(t, client) {
			t.Fatalf("closed %d s into an idle connection", 15*(i+1))
		}
		waitHeard(t, server, clock)
		waitHeard(t, client, clock)
		deadline := time.Now().Add(10 * time.Second)
		for server.pinging.Load() || client.pinging.Load() { // their pongs are in
			if time.Now().After(deadline) {
				t.Fatal("a ping went unanswered for 10s")
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := client.Send(ctx, []byte("still there?")); err != nil {
		t.Fatal(err)
	}
	if err := server.Send(ctx, []byte("yes")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := <-recvd; err != nil {
			t.Fatalf("idle pair: %v", err)
		}
	}
}

func TestClose_NormalCloseNamesTheSide(t *testing.T) {
	ctx := testCtx(t)
	server, client := withPair(t, keepaliveConfig{}, keepaliveConfig{})
	done := make(chan error, 1)
	go func() { _, err := client.Recv(ctx); done <- err }()
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if !errors.Is(err, transport.ErrClosed) || !strings.Contains(err.Error(), "closed by the peer: connection closed by the server (status 1000)") {
		t.Fatalf("client Recv: %v", err)
	}
	if _, err := server.Recv(ctx); !errors.Is(err, transport.ErrClosed) || !strings.Contains(err.Error(), "closed by us: connection closed by the server") {
		t.Fatalf("server Recv after its Close: %v", err)
	}
	if err := server.Send(ctx, []byte("x")); !errors.Is(err, transport.ErrClosed) || !strings.Contains(err.Error(), "closed by us") {
		t.Fatalf("server Send after its Close: %v", err)
	}
}

func TestClose_TextMessageIsAProtocolError(t *testing.T) {
	ctx := testCtx(t)
	c, peer := withPeer(t, keepaliveConfig{})
	peerErr := make(chan error, 1)
	go func() { _, _, err := peer.Read(ctx); peerErr <- err }() // answers our close
	if err := peer.Write(ctx, websocket.MessageText, []byte("hello?")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Recv(ctx); !errors.Is(err, transport.ErrProtocol) {
		t.Fatalf("Recv of a text message: %v, want ErrProtocol", err)
	}
	err := <-peerErr
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusUnsupportedData || !strings.Contains(ce.Reason, "text message where binary frames are expected") {
		t.Fatalf("the peer read %v, want status 1003 with a reason", err)
	}
}

func TestClose_OversizedMessageNamesTheLimit(t *testing.T) {
	ctx := testCtx(t)
	c, peer := withPeer(t, keepaliveConfig{})
	peerErr := make(chan error, 1)
	go func() { _, _, err := peer.Read(ctx); peerErr <- err }()                         // answers our close
	go peer.Write(ctx, websocket.MessageBinary, make([]byte, transport.MaxFrameSize+1)) // cut short by the close
	if _, err := c.Recv(ctx); !errors.Is(err, transport.ErrTooLarge) || !strings.Contains(err.Error(), "message too big") {
		t.Fatalf("Recv of an oversized message: %v, want ErrTooLarge", err)
	}
	err := <-peerErr
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusMessageTooBig || !strings.Contains(ce.Reason, "message too big") {
		t.Fatalf("the peer read %v, want status 1009 with a reason", err)
	}
}

// The reason a peer gives reaches Recv, as does the message-too-big status.
func TestClose_PeerReasonInRecvError(t *testing.T) {
	ctx := testCtx(t)
	c, peer := withPeer(t, keepaliveConfig{})
	go peer.Close(websocket.StatusMessageTooBig, "your frame was 40 MiB")
	_, err := c.Recv(ctx)
	if !errors.Is(err, transport.ErrClosed) || !errors.Is(err, transport.ErrTooLarge) || !strings.Contains(err.Error(), "closed by the peer: your frame was 40 MiB (status 1009)") {
		t.Fatalf("Recv: %v", err)
	}
}

func TestTruncateReason(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	got := truncateReason(long)
	if len(got) > 123 || !strings.HasPrefix(long, got) || len(got) < 120 {
		t.Fatalf("truncated to %d bytes: %q", len(got), got)
	}
	if truncateReason("short") != "short" {
		t.Fatal("a short reason was changed")
	}
}

// A Recv whose context ends closes the connection (the library cannot
// abandon a read) with a reason the peer sees.
func TestClose_RecvContextEndTellsThePeer(t *testing.T) {
	ctx := testCtx(t)
	server, client := withPair(t, keepaliveConfig{}, keepaliveConfig{})
	peerErr := make(chan error, 1)
	go func() { _, err := client.Recv(ctx); peerErr <- err }()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err := server.Recv(rctx)
	if !errors.Is(err, transport.ErrClosed) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv past its deadline: %v, want ErrClosed and DeadlineExceeded", err)
	}
	if err := <-peerErr; !strings.Contains(err.Error(), "closed by the peer: gave up waiting for a message: context deadline exceeded (status 1001)") {
		t.Fatalf("peer Recv: %v", err)
	}
}

// Messages of changing sizes arrive whole and stay as they arrived: a
// large one is read into a buffer sized after the one before it (larger,
// smaller, or small again after a large one), and no later message reuses
// the buffer of one handed out before.
func TestRecv_MessagesOfChangingSizesArriveWhole(t *testing.T) {
	ctx := testCtx(t)
	c, peer := withPeer(t, keepaliveConfig{})
	sizes := []int{5, 300 << 10, 300 << 10, 290 << 10, 1200 << 10, 100, 70 << 10, 64 << 10, 3, 2 << 20, 2<<20 + 1, 0, 16 << 10}
	want := make([][]byte, len(sizes))
	for i, n := range sizes {
		want[i] = make([]byte, n)
		for j := range want[i] {
			want[i][j] = byte(i*31 + j*7)
		}
	}
	go func() {
		for _, m := range want {
			if err := peer.Write(ctx, websocket.MessageBinary, m); err != nil {
				return
			}
		}
	}()
	got := make([][]byte, len(sizes))
	for i := range sizes {
		m, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("Recv of message %d (%d bytes): %v", i, sizes[i], err)
		}
		got[i] = m
	}
	for i := range sizes {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("message %d (%d bytes) holds %d bytes that differ from what was sent", i, sizes[i], len(got[i]))
		}
	}
}
