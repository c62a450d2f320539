package schemas

import (
	"errors"
	"fmt"
)

// MaxAlertIDLength is the longest alert ID accepted (CONTRACT section 3).
const MaxAlertIDLength = 128

// ErrInvalidAlertID is wrapped by every error about a malformed alert ID.
var ErrInvalidAlertID = errors.New("invalid alert id")

// ValidAlertID reports whether id is 1 to 128 characters of A-Z a-z 0-9 _ -.
// Such an ID is safe in a URL path segment, a NATS header and a KV key.
func ValidAlertID(id string) bool {
	if len(id) == 0 || len(id) > MaxAlertIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// CheckAlertID returns nil for a valid ID, or an error wrapping
// ErrInvalidAlertID that says what is wrong without echoing hostile bytes.
func CheckAlertID(id string) error {
	switch {
	case len(id) == 0:
		return fmt.Errorf("%w: empty", ErrInvalidAlertID)
	case len(id) > MaxAlertIDLength:
		return fmt.Errorf("%w: %d characters, at most %d allowed", ErrInvalidAlertID, len(id), MaxAlertIDLength)
	case !ValidAlertID(id):
		return fmt.Errorf("%w: only A-Z a-z 0-9 _ - are allowed", ErrInvalidAlertID)
	}
	return nil
}
