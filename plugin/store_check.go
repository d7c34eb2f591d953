package hadns

import (
	"time"

	"github.com/hadns/hadns/internal/zone"
)

// CheckZoneDocument loads a zone document as a zone file is loaded (what
// `hadns check` does for each zone file) and returns its origin; the error
// names path and the line of every problem. `hadns ctl zone push` calls it
// before anything is sent, and the server checks again before writing.
func CheckZoneDocument(path string, data []byte) (string, error) {
	z, err := zone.ParseWithBackends(path, data, time.Unix(1, 0), nil)
	if err != nil {
		return "", err
	}
	return z.Origin(), nil
}
