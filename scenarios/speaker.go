package scenarios

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/metallb/speaker"
)

// Speaker implements Env: the speaker's status endpoint on the node
// (kinds.SpeakerSocket, where the sno kind starts it).
func (e *LabEnv) Speaker(ctx context.Context, name string) (Speaker, error) {
	if _, err := e.node(name); err != nil {
		return nil, err
	}
	return &speakerStatus{node: name, socket: kinds.SpeakerSocket(e.Lab.Name, name)}, nil
}

// speakerStatus reads GET /status from a speaker.
type speakerStatus struct {
	node, socket string
}

func (s *speakerStatus) Sessions(ctx context.Context) ([]SpeakerSession, error) {
	rep, err := speaker.Status(ctx, s.socket)
	if err != nil {
		return nil, fmt.Errorf("the speaker on %s: %w", s.node, err)
	}
	out := make([]SpeakerSession, 0, len(rep.Sessions))
	for _, ss := range rep.Sessions {
		a, err := netip.ParseAddr(ss.PeerAddress)
		if err != nil {
			continue
		}
		drops := int(ss.EstablishedCount)
		if ss.State == "Established" && drops > 0 {
			drops--
		}
		out = append(out, SpeakerSession{Peer: a.Unmap(), State: ss.State, Since: ss.Since, LastError: ss.LastError, Drops: drops})
	}
	return out, nil
}
