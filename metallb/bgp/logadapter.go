package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// logAdapter is the gobgp/v3 logger (pkg/log.Logger) of one BgpServer. It
// forwards records to slog under the "gobgp" group and never exits or
// panics: Fatal and Panic become Error records with fatal=true. gobgp's
// Info records (peer added, state changes) become Debug, and so do its
// notification records, which the session logs itself as peerNotification.
// It also taps the few records that carry facts gobgp's API does not
// expose: NOTIFICATIONs sent and received, FSM transition reasons, and
// dial errors.
type logAdapter struct {
	log *slog.Logger
	tap func(rec tapRecord)
}

// tapRecord is what the adapter extracts for the session.
type tapRecord struct {
	notification *Notification
	// transition reason, with the FSM state names gobgp logged.
	reason           string
	fromName, toName string
	dialError        string
}

var _ gobgplog.Logger = (*logAdapter)(nil)

func (a *logAdapter) Panic(msg string, f gobgplog.Fields) { a.emit(slog.LevelError, msg, f, true) }
func (a *logAdapter) Fatal(msg string, f gobgplog.Fields) { a.emit(slog.LevelError, msg, f, true) }
func (a *logAdapter) Error(msg string, f gobgplog.Fields) { a.emit(slog.LevelError, msg, f, false) }
func (a *logAdapter) Warn(msg string, f gobgplog.Fields)  { a.emit(slog.LevelWarn, msg, f, false) }
func (a *logAdapter) Info(msg string, f gobgplog.Fields)  { a.emit(slog.LevelDebug, msg, f, false) }
func (a *logAdapter) Debug(msg string, f gobgplog.Fields) { a.emit(slog.LevelDebug, msg, f, false) }

// SetLevel is ignored: the slog handler decides what is written.
func (a *logAdapter) SetLevel(gobgplog.LogLevel) {}

// GetLevel reports Debug so that gobgp calls Debug for the records the tap
// needs ("failed to connect" is only logged when the level is Debug); slog
// then drops what its handler does not want.
func (a *logAdapter) GetLevel() gobgplog.LogLevel { return gobgplog.DebugLevel }

func (a *logAdapter) emit(level slog.Level, msg string, f gobgplog.Fields, fatal bool) {
	if a.tapRecord(msg, f) && level > slog.LevelDebug && !fatal {
		level = slog.LevelDebug
	}
	if !a.log.Enabled(context.Background(), level) {
		return
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]any, 0, len(keys)+1)
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, f[k]))
	}
	if fatal {
		attrs = append(attrs, slog.Bool("fatal", true))
	}
	a.log.Log(context.Background(), level, "gobgp: "+msg, slog.Group("gobgp", attrs...))
}

// tapRecord hands facts from a record to the tap; it reports whether the
// record was a notification the session logs itself.
func (a *logAdapter) tapRecord(msg string, f gobgplog.Fields) bool {
	if a.tap == nil {
		return false
	}
	switch msg {
	case "received notification", "sent notification":
		n, ok := notificationFromFields(f, msg == "sent notification")
		if ok {
			a.tap(tapRecord{notification: &n})
		}
		return ok
	case "state changed":
		r := tapRecord{fromName: fmt.Sprint(f["old"]), toName: fmt.Sprint(f["new"])}
		if v, ok := f["reason"]; ok && v != nil {
			r.reason = fmt.Sprint(v)
		}
		a.tap(r)
	case "failed to connect":
		if e, ok := f["Error"]; ok {
			a.tap(tapRecord{dialError: fmt.Sprint(e)})
		}
	}
	return false
}

// notificationFromFields decodes the fields of gobgp's notification
// records: either Code/Subcode/Data (and Communicated-Reason for
// administrative shutdown and reset), or Data holding the *MessageError
// that caused the NOTIFICATION.
func notificationFromFields(f gobgplog.Fields, sent bool) (Notification, bool) {
	n := Notification{Sent: sent, Time: time.Now()}
	if me, ok := f["Data"].(*bgp.MessageError); ok {
		n.Code, n.Subcode, n.Data = me.TypeCode, me.SubTypeCode, me.Data
		return n, true
	}
	code, ok1 := f["Code"].(uint8)
	sub, ok2 := f["Subcode"].(uint8)
	if !ok1 || !ok2 {
		return n, false
	}
	n.Code, n.Subcode = code, sub
	if d, ok := f["Data"].([]byte); ok {
		n.Data = d
	}
	if c, ok := f["Communicated-Reason"].(string); ok {
		n.Communication = c
	}
	return n, true
}
