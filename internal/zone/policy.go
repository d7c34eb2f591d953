package zone

import (
	"fmt"
	"strconv"
	"strings"
)

// parseHealthPolicy reads a service's `health` key: "" or "local" (0: this
// instance's own checker decides, as without a store) or "quorum N".
func parseHealthPolicy(s string) (int, error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 0 || len(f) == 1 && f[0] == "local":
		return 0, nil
	case len(f) == 2 && f[0] == "quorum":
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 1 || n > 1000 {
			return 0, fmt.Errorf("health %q: quorum wants a number of instances from 1 to 1000", s)
		}
		return n, nil
	}
	return 0, fmt.Errorf("health %q: want local or quorum N", s)
}
