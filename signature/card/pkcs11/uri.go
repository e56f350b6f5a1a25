package pkcs11

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// URI is an RFC 7512 PKCS#11 URI: "pkcs11:token=CPS;serial=1234" names a
// token, "pkcs11:object=CPS_PRIV_SIG" or "pkcs11:id=%E8%28" a key. Empty
// fields match anything.
type URI struct {
	// Token attributes.
	Token, Manufacturer, Serial, Model string
	// Slot attributes; SlotID is decimal.
	SlotDescription, SlotManufacturer, SlotID string
	// Library attributes.
	LibraryManufacturer, LibraryDescription string
	// Object attributes: the key's label (CKA_LABEL), its id (CKA_ID,
	// raw bytes) and type ("private", "cert", ...).
	Object, Type string
	ID           []byte
	// ModulePath is the module-path query attribute: the PKCS#11 module to
	// load.
	ModulePath string
}

var errURI = errors.New("pkcs11 URI")

// ParseURI parses an RFC 7512 URI. Vendor attributes (x-...) are
// ignored; PIN attributes (pin-value, pin-source) are refused: the PIN is
// asked through the prompt, never written in a URI.
func ParseURI(s string) (URI, error) {
	var u URI
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		return u, fmt.Errorf("%w %q: the scheme is not pkcs11", errURI, s)
	}
	path, query, _ := strings.Cut(rest, "?")
	if path != "" {
		for _, a := range strings.Split(path, ";") {
			k, v, err := attr(a)
			if err != nil {
				return u, fmt.Errorf("%w %q: %v", errURI, s, err)
			}
			switch k {
			case "token":
				u.Token = v
			case "manufacturer":
				u.Manufacturer = v
			case "serial":
				u.Serial = v
			case "model":
				u.Model = v
			case "slot-description":
				u.SlotDescription = v
			case "slot-manufacturer":
				u.SlotManufacturer = v
			case "slot-id":
				if _, err := strconv.ParseUint(v, 10, 64); err != nil {
					return u, fmt.Errorf("%w %q: slot-id %q is not a number", errURI, s, v)
				}
				u.SlotID = v
			case "library-manufacturer":
				u.LibraryManufacturer = v
			case "library-description":
				u.LibraryDescription = v
			case "library-version":
			case "object":
				u.Object = v
			case "id":
				u.ID = []byte(v)
			case "type":
				u.Type = v
			default:
				if !strings.HasPrefix(k, "x-") {
					return u, fmt.Errorf("%w %q: unknown attribute %q", errURI, s, k)
				}
			}
		}
	}
	if query != "" {
		for _, a := range strings.Split(query, "&") {
			k, v, err := attr(a)
			if err != nil {
				return u, fmt.Errorf("%w %q: %v", errURI, s, err)
			}
			switch k {
			case "module-path":
				u.ModulePath = v
			case "pin-value", "pin-source":
				return u, fmt.Errorf("%w: %s: the PIN is asked for (--pin-file, FSEGATE_PIN or the terminal), never written in a URI", errURI, k)
			case "module-name", "max-sessions":
			default:
				if !strings.HasPrefix(k, "x-") {
					return u, fmt.Errorf("%w %q: unknown query attribute %q", errURI, s, k)
				}
			}
		}
	}
	return u, nil
}

func attr(a string) (k, v string, err error) {
	k, raw, ok := strings.Cut(a, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("%q is not name=value", a)
	}
	v, err = url.PathUnescape(raw)
	if err != nil {
		return "", "", fmt.Errorf("%s: %v", k, err)
	}
	return k, v, nil
}
