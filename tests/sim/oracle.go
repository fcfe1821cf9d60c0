package sim

import (
	"fmt"
	"sync"

	"github.com/ankurah/ankurah-go/core/id"
)

// Outcomes of a commit, as its caller saw them.
const (
	pending  = iota // Commit has not returned
	acked           // Commit returned nil (the server accepted it, or it waits in the outbox)
	failed          // Commit returned an error: it may or may not have landed
	rejected        // Commit returned an error before anything left the node
)

// commit is what the oracle knows of one transaction of the workload. Every
// commit writes its token as the value of its own witness property
// ("w<seq>") on each entity it edits or creates, and as a text insertion
// "[<token>]" when it edits text, so its presence can be read off any
// replica.
type commit struct {
	seq      int
	node     string
	token    string
	epoch    int // the system it was made in (a wipe starts a new one)
	forbid   bool
	stale    bool // made on a client that had not met the current system yet
	entities []id.EntityID
	text     []id.EntityID // entities whose text it inserted into
	deletes  []id.EntityID
	status   int
}

func (c *commit) witness() string { return fmt.Sprintf("w%d", c.seq) }

// oracle is the model the invariants are checked against: every commit,
// every entity created, and the system epoch. Safe for concurrent use.
type oracle struct {
	mu       sync.Mutex
	commits  []*commit
	byToken  map[string]*commit
	entities map[id.EntityID]int // entity -> the epoch it was created in (acked creations only)
	created  map[id.EntityID]*commit
	order    []id.EntityID // acked creations, in order (what edits pick from)
	epoch    int
	wipes    int
}

func newOracle() *oracle {
	return &oracle{byToken: map[string]*commit{}, entities: map[id.EntityID]int{}, created: map[id.EntityID]*commit{}}
}

func (o *oracle) begin(node string, seen int, forbid bool) *commit {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := &commit{seq: len(o.commits) + 1, node: node, epoch: o.epoch, forbid: forbid, stale: seen < o.epoch}
	c.token = fmt.Sprintf("t%d", c.seq)
	o.commits = append(o.commits, c)
	o.byToken[c.token] = c
	return c
}

// created records an entity a commit creates (known to the workload once
// the commit is acknowledged).
func (o *oracle) create(c *commit, eid id.EntityID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c.entities = append(c.entities, eid)
	o.created[eid] = c
}

func (o *oracle) edit(c *commit, eid id.EntityID, text bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c.entities = append(c.entities, eid)
	if text {
		c.text = append(c.text, eid)
	}
}

func (o *oracle) markText(c *commit, eid id.EntityID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c.text = append(c.text, eid)
}

func (o *oracle) del(c *commit, eid id.EntityID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c.deletes = append(c.deletes, eid)
}

func (o *oracle) done(c *commit, status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c.status = status
	if status != acked || c.forbid {
		return
	}
	for eid, by := range o.created {
		if by == c {
			if _, ok := o.entities[eid]; !ok {
				o.entities[eid] = c.epoch
				o.order = append(o.order, eid)
			}
		}
	}
}

// pick returns a known entity (ok false: none yet).
func (o *oracle) pick(k int) (id.EntityID, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.order) == 0 {
		return id.EntityID{}, false
	}
	return o.order[k%len(o.order)], true
}

func (o *oracle) current() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.epoch
}

func (o *oracle) wipe() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.epoch++
	o.wipes++
}

// snapshot copies what the checks read.
func (o *oracle) snapshot() (commits []commit, epoch, wipes int, byToken map[string]*commit, created map[id.EntityID]*commit) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.commits {
		commits = append(commits, *c)
	}
	byToken = make(map[string]*commit, len(o.byToken))
	for k, v := range o.byToken {
		cc := *v
		byToken[k] = &cc
	}
	created = make(map[id.EntityID]*commit, len(o.created))
	for k, v := range o.created {
		created[k] = byToken[v.token]
	}
	return commits, o.epoch, o.wipes, byToken, created
}
