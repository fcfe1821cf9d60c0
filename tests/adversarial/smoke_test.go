package adversarial_test

import "testing"

func TestHarness_ServesWellBehavedClients(t *testing.T) {
	s := startServer(t)
	g := s.guard(t)
	g.done(t)
	r := s.rawAs(t, s.token(t, "mallory"))
	r.alive(t, "raw")
}
