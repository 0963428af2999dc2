package audit

import (
	"context"

	"behalf/model"
)

// Party names a person in an audit event: a user's id and login. A zero Party is "nobody known".
type Party struct {
	ID    string
	Login string
}

// UserParty names u (nobody when u is nil).
func UserParty(u *model.User) *Party {
	if u == nil {
		return &Party{}
	}
	return &Party{ID: u.ID, Login: u.Login}
}

// Facts are what a domain service knows about the operation it ran and the request's identity does
// not: whose account it concerned, the session it opened, the reason on record. Services return them
// as values, with their result or with their error; the @audit directive merges them into the event it
// writes. Zero fields leave the event as the request's identity stamped it.
type Facts struct {
	// Anonymous drops the request's identity from the event before the facts apply: the operation's
	// parties are only those named here (confirmOnBehalf comes from an anonymous storefront window
	// and is about the ticket's requester and target).
	Anonymous bool
	Actor     *Party  // who really acted, when not the request's identity
	Subject   *Party  // whose account the operation concerned
	SessionID *string // the session the operation opened or concerned ("" for none)
	OnBehalf  bool    // the operation opened a login-on-behalf session
	Reason    string  // the reason on record (a refusal's code comes from the error instead)
}

// Merge returns f overlaid with g: g's set fields win.
func (f Facts) Merge(g Facts) Facts {
	if g.Anonymous {
		f = Facts{Anonymous: true, Reason: f.Reason}
	}
	if g.Actor != nil {
		f.Actor = g.Actor
	}
	if g.Subject != nil {
		f.Subject = g.Subject
	}
	if g.SessionID != nil {
		f.SessionID = g.SessionID
	}
	f.OnBehalf = f.OnBehalf || g.OnBehalf
	if g.Reason != "" {
		f.Reason = g.Reason
	}
	return f
}

// Apply writes the facts into ev, which carries the request's identity.
func (f Facts) Apply(ev *model.AuditEvent) {
	if f.Anonymous {
		ev.ActorID, ev.ActorLogin, ev.SubjectID, ev.SubjectLogin, ev.SessionID = nil, "", nil, "", nil
	}
	if f.Actor != nil {
		ev.ActorID, ev.ActorLogin = idOrNil(f.Actor.ID), f.Actor.Login
	}
	if f.Subject != nil {
		ev.SubjectID, ev.SubjectLogin = idOrNil(f.Subject.ID), f.Subject.Login
	}
	if f.SessionID != nil {
		ev.SessionID = idOrNil(*f.SessionID)
	}
	if f.OnBehalf {
		ev.OnBehalf = true
	}
	if f.Reason != "" {
		ev.Reason = f.Reason
	}
}

func idOrNil(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

// Report hands the facts a service returned to the @audit directive of the running mutation and
// returns err unchanged, so a resolver reads `return res, audit.Report(ctx, facts, err)`. Outside a
// mutation (no @audit) the facts are dropped. Only resolvers call it: domain code returns facts.
func Report(ctx context.Context, f Facts, err error) error {
	if c, ok := ctx.Value(collectorKey{}).(*Collector); ok {
		c.facts = c.facts.Merge(f)
	}
	return err
}

type collectorKey struct{}

// Collector receives the facts reported during one mutation; the @audit directive owns it.
type Collector struct{ facts Facts }

// Collect returns a context whose Report calls land in a new Collector, and the collector.
func Collect(ctx context.Context) (context.Context, *Collector) {
	c := &Collector{}
	return context.WithValue(ctx, collectorKey{}, c), c
}

// Facts returns what was reported so far.
func (c *Collector) Facts() Facts { return c.facts }
