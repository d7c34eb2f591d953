package adminapi

// RegistrationRequest is the body of POST /v1/registrations: a backend
// that joins a service for TTLSeconds unless renewed by posting again.
type RegistrationRequest struct {
	Service    string  `json:"service"` // the service's name, e.g. api.example.test
	Address    string  `json:"address"`
	Port       uint16  `json:"port,omitempty"`
	Site       string  `json:"site"`
	Weight     *uint16 `json:"weight,omitempty"`
	Hostname   string  `json:"hostname,omitempty"`
	TTLSeconds int     `json:"ttl_seconds,omitempty"` // default 10
}
