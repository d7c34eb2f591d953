package healthcheck

// State is the health of a target as the policy sees it. It fits in a byte so
// that the query path can read it with one atomic load.
type State uint8

const (
	// Unknown is the state before the first probe result.
	Unknown State = iota
	// Up means the target passed its checks.
	Up
	// Suspect means the target was Up and has failed at least once, but fewer
	// than Fall times in a row. It is still served, with a short TTL.
	Suspect
	// Down means the target failed Fall times in a row (or its watched
	// connection was lost) and has not yet passed Rise times in a row.
	Down
)

var stateNames = [...]string{Unknown: "unknown", Up: "up", Suspect: "suspect", Down: "down"}

// String returns "unknown", "up", "suspect" or "down".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + itoa(int(s)) + ")"
}

// Healthy reports whether a target in this state should be handed out:
// Up and Suspect are, Down is not. Unknown counts as healthy (until the first
// result arrives, a backend is given the benefit of the doubt).
func (s State) Healthy() bool { return s != Down }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
