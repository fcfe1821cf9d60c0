package ws

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/policy"
	"github.com/ankurah/ankurah-go/core/signal"
	"github.com/ankurah/ankurah-go/core/transport"
)

// State is a client's connection state.
type State int

// The connection states.
const (
	Connecting State = iota
	Connected
	Disconnected // waiting to reconnect
	Closed
)

var stateNames = [...]string{"connecting", "connected", "disconnected", "closed"}

// String names the state.
func (s State) String() string { return stateNames[s] }

// Client keeps an ephemeral node connected to a durable node's Server.
type Client struct {
	urls      []string // the servers, in the order they are tried
	at        int      // index in urls of the server in use (run's goroutine)
	url       atomic.Pointer[string]
	node      *core.Node
	creds     func() []byte
	min       time.Duration
	max       time.Duration
	log       *slog.Logger
	keepalive keepaliveConfig
	clock     clock
	state     *signal.Mutable[State]
	cancel    context.CancelFunc
	done      chan struct{}

	mu      sync.Mutex
	peer    *core.Peer
	refused chan error    // the first refusal, for Dial
	up      chan struct{} // closed once the first connection is set up, for Dial
	upOnce  sync.Once

	// refreshMu serializes credential refreshes (the timer, the server's
	// notice, RefreshCredentials) and guards sent and stopTimer.
	refreshMu sync.Mutex
	sent      []byte      // the credentials the current connection holds
	stopTimer func() bool // stops the pending refresh; nil if none
}

// clock is the time source of credential refreshes (injected by tests).
type clock struct {
	now       func() time.Time
	afterFunc func(d time.Duration, f func()) (stop func() bool)
}

var realClock = clock{
	now:       time.Now,
	afterFunc: func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop },
}

// ClientOption configures Dial.
type ClientOption func(*Client)

// WithCredentials sets the function that gives the credentials (a token,
// say) sent on every connection; it is called again on each reconnect so a
// renewed token is used.
//
// When the credentials are a JWT (three base64url parts) whose payload has
// an exp claim, the client also refreshes them ahead of expiry on the open
// connection: with T the lifetime left when the token was sent, it calls f
// again after 90% of T or T − 30 s, whichever is later (so a one-hour token
// is renewed 30 s before it expires, a one-minute token 6 s before), and
// sends the result with Peer.RefreshCredentials. It does the same at once
// when the server says the connection's credentials expired. Credentials
// identical to those the connection already holds are not sent again; if f
// keeps returning the same token, the client asks again by the same rule (at
// least a second apart) until that token expires by its clock, and then
// only when the server says so. f may be called from any goroutine.
func WithCredentials(f func() []byte) ClientOption { return func(c *Client) { c.creds = f } }

// WithBackoff sets the reconnect backoff bounds (1 s to 30 s by default).
func WithBackoff(min, max time.Duration) ClientOption {
	return func(c *Client) { c.min, c.max = min, max }
}

// WithClientLogger sets the client's logger.
func WithClientLogger(l *slog.Logger) ClientOption { return func(c *Client) { c.log = l } }

// WithServers adds servers to fail over to, after Dial's url: servers that
// share one store (several `ankurah serve` on one database, behind a load
// balancer or not). When a connection fails or ends, the client tries the
// next server at once; backoff starts only when a whole round failed. Live
// queries re-subscribe and offline commits are sent on whichever server it
// reaches.
func WithServers(urls ...string) ClientOption {
	return func(c *Client) { c.urls = append(c.urls, urls...) }
}

// URL returns the server the client uses now (or tries next).
func (c *Client) URL() string { return *c.url.Load() }

// Dial connects node (usually ephemeral) to the Server at url (ws:// or
// wss://) and keeps it connected, reconnecting with jittered exponential
// backoff until Close. It waits for the first connection until ctx ends; if
// ctx ends first it returns the client, still reconnecting in the
// background, with ctx's error. If the server refuses the handshake (bad
// credentials, another protocol version) Dial returns that error at once;
// the client keeps retrying with fresh credentials from WithCredentials.
func Dial(ctx context.Context, url string, node *core.Node, opts ...ClientOption) (*Client, error) {
	c := &Client{urls: []string{url}, node: node, creds: func() []byte { return nil }, min: time.Second, max: 30 * time.Second, log: slog.Default(), keepalive: clientKeepalive, clock: realClock, state: signal.New(Connecting), done: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	c.url.Store(&c.urls[0])
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.refused = make(chan error, 1)
	c.up = make(chan struct{})
	go c.run(runCtx)
	select {
	case <-c.up:
		return c, nil
	case err := <-c.refused:
		return c, err
	case <-ctx.Done():
		return c, ctx.Err()
	}
}

// isRefusal reports whether the server refused the handshake (as opposed to
// being unreachable): bad credentials or an incompatible protocol.
func isRefusal(err error) bool {
	return errors.Is(err, policy.ErrUnauthenticated) || errors.Is(err, transport.ErrVersion) || errors.Is(err, core.ErrRemote)
}

// State returns the connection state as a signal.
func (c *Client) State() signal.Signal[State] { return c.state }

// Peer returns the current connection (nil while disconnected).
func (c *Client) Peer() *core.Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peer
}

// RefreshCredentials calls the credentials function and sends its result
// on the current connection now (even if unchanged).
func (c *Client) RefreshCredentials() {
	if p := c.Peer(); p != nil {
		c.refresh(p, true, "asked by the application")
	}
}

// Close disconnects and stops reconnecting.
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	return nil
}

func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	defer c.state.Set(Closed)
	backoff := c.min
	failed := 0 // servers that failed in a row
	for {
		c.state.Set(Connecting)
		p, creds, err := c.connect(ctx)
		steady := false // the connection lasted: fail over without waiting
		if err == nil {
			backoff, failed = c.min, 0
			upAt := time.Now()
			c.mu.Lock()
			c.peer = p
			c.mu.Unlock()
			c.startRefresh(p, creds)
			c.state.Set(Connected)
			c.upOnce.Do(func() { close(c.up) })
			select {
			case <-p.Done():
				c.log.Info("disconnected from durable node", "url", c.URL(), "err", p.Err())
			case <-ctx.Done():
				p.Close()
			}
			c.stopRefresh()
			c.mu.Lock()
			c.peer = nil
			c.mu.Unlock()
			steady = time.Since(upAt) >= c.min
		} else if !errors.Is(err, context.Canceled) {
			if isRefusal(err) {
				select {
				case c.refused <- err:
				default:
				}
			}
			c.log.Warn("connecting to durable node failed", "url", c.URL(), "err", err, "retry_in", backoff)
		}
		if ctx.Err() != nil {
			return
		}
		c.state.Set(Disconnected)
		if len(c.urls) > 1 {
			// Fail over: the next server, at once, until a whole round failed.
			c.at = (c.at + 1) % len(c.urls)
			c.url.Store(&c.urls[c.at])
			if !steady {
				failed++
			}
			if steady || failed%len(c.urls) != 0 {
				continue
			}
		}
		// Full jitter in [backoff/2, backoff], so clients don't reconnect in lockstep.
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		if err != nil || !steady {
			backoff = min(backoff*2, c.max)
		}
	}
}

func (c *Client) connect(ctx context.Context) (*core.Peer, []byte, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	live := newLiveness(c.keepalive.now())
	cn, err := dial(dctx, c.URL(), live, c.keepalive)
	if err != nil {
		return nil, nil, err
	}
	creds := c.creds()
	p, err := c.node.Connect(dctx, cn, creds)
	return p, creds, err
}

// startRefresh arms the refreshes of a new connection's credentials.
func (c *Client) startRefresh(p *core.Peer, creds []byte) {
	c.refreshMu.Lock()
	c.sent = creds
	c.scheduleLocked(p, creds, false)
	c.refreshMu.Unlock()
	p.OnCredentialsExpired(func() { c.refresh(p, false, "the server says the credentials expired") })
}

// stopRefresh cancels the pending refresh of the connection that ended.
func (c *Client) stopRefresh() {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if c.stopTimer != nil {
		c.stopTimer()
		c.stopTimer = nil
	}
	c.sent = nil
}

// refresh asks the credentials function again and sends the result on p
// (unless p has ended, or, without force, the result is what p holds).
func (c *Client) refresh(p *core.Peer, force bool, why string) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	select {
	case <-p.Done():
		return
	default:
	}
	if c.Peer() != p {
		return
	}
	creds := c.creds()
	if !force && bytes.Equal(creds, c.sent) {
		c.log.Warn("the credentials function returned the credentials the connection already holds; not sending them again", "url", c.URL(), "why", why)
		c.scheduleLocked(p, creds, true)
		return
	}
	c.sent = creds
	p.RefreshCredentials(creds)
	c.log.Info("credentials refreshed", "url", c.URL(), "why", why)
	c.scheduleLocked(p, creds, false)
}

// scheduleLocked arms the refresh of creds ahead of their expiry, if they
// are a JWT with an exp claim. unchanged: creds are what the connection
// already held when the credentials function was last asked.
func (c *Client) scheduleLocked(p *core.Peer, creds []byte, unchanged bool) {
	if c.stopTimer != nil {
		c.stopTimer()
		c.stopTimer = nil
	}
	exp, ok := jwtExpiry(creds)
	if !ok {
		return
	}
	d, ok := refreshDelay(exp.Sub(c.clock.now()), unchanged)
	if !ok {
		return
	}
	c.stopTimer = c.clock.afterFunc(d, func() { c.refresh(p, false, "the token expires soon") })
}

// Refresh timing (see WithCredentials).
const (
	refreshMargin = 30 * time.Second
	refreshRetry  = time.Second
)

// refreshDelay is how long to wait before refreshing credentials with
// remaining lifetime left: 90% of it or remaining − refreshMargin, whichever
// is later; at once when already expired. For credentials the function
// returned again unchanged, at least refreshRetry, and never once expired
// (the server's notice then triggers the refresh).
func refreshDelay(remaining time.Duration, unchanged bool) (time.Duration, bool) {
	if remaining <= 0 {
		return 0, !unchanged
	}
	d := max(remaining/10*9, remaining-refreshMargin)
	if unchanged {
		d = max(d, refreshRetry)
	}
	return d, true
}

// jwtExpiry returns the exp claim of credentials that are a JWT: three
// base64url parts, the second a JSON object with a numeric exp (seconds
// since 1970, fractions allowed).
func jwtExpiry(creds []byte) (time.Time, bool) {
	parts := strings.Split(string(creds), ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	var payload []byte
	for i, part := range parts {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(part, "="))
		if err != nil {
			return time.Time{}, false
		}
		if i == 1 {
			payload = b
		}
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	f, err := claims.Exp.Float64()
	if err != nil || f <= 0 || math.IsInf(f, 0) || f > 1<<40 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
