package diagnose

import "time"

// Report is the result of a diagnosis.
type Report struct {
	Lab  string    `json:"lab"`
	Time time.Time `json:"time"`
	// Peer is the --peer filter, if any.
	Peer string `json:"peer,omitempty"`
	// Healthy is true when no rule found a problem.
	Healthy bool `json:"healthy"`
	// Findings are the causes found, the most important first. A healthy
	// lab has none.
	Findings []Finding `json:"findings"`
	// Sessions describes every session (pair of ends) that was looked at.
	Sessions []SessionView `json:"sessions"`
	// Healthy evidence: why the lab is considered healthy (only when
	// Healthy).
	HealthyEvidence []string `json:"healthyEvidence,omitempty"`
	// Notes are things the diagnosis could not look at.
	Notes []string `json:"notes,omitempty"`
	// Evidence is what the report was made from.
	Evidence *Evidence `json:"evidence,omitempty"`
}

// Causes returns the cause IDs of the findings, in order; ["healthy"] for a
// healthy report.
func (r *Report) Causes() []string {
	if len(r.Findings) == 0 {
		return []string{CauseHealthy}
	}
	out := make([]string, 0, len(r.Findings))
	for _, f := range r.Findings {
		out = append(out, f.Cause)
	}
	return out
}

// Has reports whether the report names the cause (CauseHealthy: whether it
// is healthy).
func (r *Report) Has(cause string) bool {
	if cause == CauseHealthy {
		return r.Healthy
	}
	for _, f := range r.Findings {
		if f.Cause == cause {
			return true
		}
	}
	return false
}

// Finding is one cause with its proof.
type Finding struct {
	// Cause is the cause's ID (see Causes); Title its name.
	Cause string `json:"cause"`
	Title string `json:"title"`
	// Session is the session it concerns ("sno4 ↔ vyos"), empty for a
	// finding about services.
	Session string `json:"session,omitempty"`
	// Where names the node where the fault is ("vyos", "sno4"), when that
	// is known.
	Where string `json:"where,omitempty"`
	// Summary says in one sentence what is wrong, with the specifics.
	Summary string `json:"summary"`
	// Fix says what to change, one step per line (commands where possible).
	Fix []string `json:"fix"`
	// Evidence lines prove it, each naming its source
	// ("speaker sno4: ...", "vyos FRR: ...", "capture: ...").
	Evidence []string `json:"evidence"`
	// Thumb compares the expert's rule of thumb with what the ends show.
	Thumb *Thumb `json:"ruleOfThumb,omitempty"`
}

// Thumb relates a finding to the rule of thumb: stuck in Idle → the OPEN
// parameters disagree (a NOTIFICATION says which); Connect → packets do not
// leave the speaker's side; Active → the TCP handshake does not complete.
type Thumb struct {
	// State is the state the rule of thumb associates with this cause,
	// and Says what it says about it.
	State string `json:"state"`
	Says  string `json:"says"`
	// Observed is what each end showed ("speaker (gobgp) on sno4: Active",
	// "FRR on vyos: Connect").
	Observed []string `json:"observed"`
	// Follows is true when the ends show the state the rule of thumb
	// expects for this cause.
	Follows bool `json:"follows"`
	// Here explains the difference (or the agreement) in one sentence.
	Here string `json:"here"`
}

// SessionView is one session as the diagnosis saw it: both ends.
type SessionView struct {
	// Name is "sno4 ↔ vyos" (or an address for an end that is no node).
	Name    string `json:"name"`
	Speaker string `json:"speaker,omitempty"` // cluster node
	Router  string `json:"router,omitempty"`  // router node
	// SpeakerState and RouterState are the FSM states of the two ends
	// ("" when that end has no session).
	SpeakerState string `json:"speakerState,omitempty"`
	RouterState  string `json:"routerState,omitempty"`
	// Lines describe the ends, one line each.
	Lines []string `json:"lines"`
}
