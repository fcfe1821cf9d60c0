package ws

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/coder/websocket"

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
	url    string
	node   *core.Node
	creds  func() []byte
	min    time.Duration
	max    time.Duration
	log    *slog.Logger
	state  *signal.Mutable[State]
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	peer    *core.Peer
	refused chan error // the first refusal, for Dial
}

// ClientOption configures Dial.
type ClientOption func(*Client)

// WithCredentials sets the function that gives the credentials (a token,
// say) sent on every connection; it is called again on each reconnect so a
// renewed token is used.
func WithCredentials(f func() []byte) ClientOption { return func(c *Client) { c.creds = f } }

// WithBackoff sets the reconnect backoff bounds (1 s to 30 s by default).
func WithBackoff(min, max time.Duration) ClientOption {
	return func(c *Client) { c.min, c.max = min, max }
}

// WithClientLogger sets the client's logger.
func WithClientLogger(l *slog.Logger) ClientOption { return func(c *Client) { c.log = l } }

// Dial connects node (usually ephemeral) to the Server at url (ws:// or
// wss://) and keeps it connected, reconnecting with jittered exponential
// backoff until Close. It waits for the first connection until ctx ends; if
// ctx ends first it returns the client, still reconnecting in the
// background, with ctx's error. If the server refuses the handshake (bad
// credentials, another protocol version) Dial returns that error at once;
// the client keeps retrying with fresh credentials from WithCredentials.
func Dial(ctx context.Context, url string, node *core.Node, opts ...ClientOption) (*Client, error) {
	c := &Client{url: url, node: node, creds: func() []byte { return nil }, min: time.Second, max: 30 * time.Second, log: slog.Default(), state: signal.New(Connecting), done: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.refused = make(chan error, 1)
	go c.run(runCtx)
	select {
	case <-node.Connected():
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

// RefreshCredentials sends fresh credentials on the current connection now.
func (c *Client) RefreshCredentials() {
	if p := c.Peer(); p != nil {
		p.RefreshCredentials(c.creds())
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
	for {
		c.state.Set(Connecting)
		p, err := c.connect(ctx)
		if err == nil {
			backoff = c.min
			c.mu.Lock()
			c.peer = p
			c.mu.Unlock()
			c.state.Set(Connected)
			select {
			case <-p.Done():
				c.log.Info("disconnected from durable node", "url", c.url, "err", p.Err())
			case <-ctx.Done():
				p.Close()
			}
			c.mu.Lock()
			c.peer = nil
			c.mu.Unlock()
		} else if !errors.Is(err, context.Canceled) {
			if isRefusal(err) {
				select {
				case c.refused <- err:
				default:
				}
			}
			c.log.Warn("connecting to durable node failed", "url", c.url, "err", err, "retry_in", backoff)
		}
		if ctx.Err() != nil {
			return
		}
		c.state.Set(Disconnected)
		// Full jitter in [backoff/2, backoff], so clients don't reconnect in lockstep.
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		if err != nil {
			backoff = min(backoff*2, c.max)
		}
	}
}

func (c *Client) connect(ctx context.Context) (*core.Peer, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	wc, _, err := websocket.Dial(dctx, c.url, nil)
	if err != nil {
		return nil, err
	}
	return c.node.Connect(dctx, newConn(wc), c.creds())
}
