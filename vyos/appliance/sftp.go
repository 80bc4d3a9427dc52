package appliance

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/pkg/sftp"
)

// sftp serves the SFTP subsystem with a view rooted at the router's file
// area: "/tmp/x.sh" on the client is FilesRoot/tmp/x.sh here.
func (s *session) sftp(ctx context.Context) int {
	root := s.srv.cfg.FilesRoot
	if root == "" {
		io.WriteString(s.ch.Stderr(), "sftp: no file area on this router\n")
		return 1
	}
	home := "/home/" + s.user
	if hp, err := resolvePath(root, home, home); err == nil {
		os.MkdirAll(hp, 0o755)
	}
	fs := &rootFS{root: root, home: home}
	srv := sftp.NewRequestServer(s.ch, sftp.Handlers{FileGet: fs, FilePut: fs, FileCmd: fs, FileList: fs},
		sftp.WithStartDirectory(home))
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	err := srv.Serve()
	srv.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		s.log.Debug("sftp session ended", "err", err)
		return 1
	}
	return 0
}

// rootFS implements pkg/sftp's request handlers on a directory.
type rootFS struct {
	root string
	home string
}

var errNoLinks = errors.New("links are not supported on this router")

func (f *rootFS) path(p string) (string, error) { return resolvePath(f.root, f.home, p) }

func (f *rootFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	p, err := f.path(r.Filepath)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

func (f *rootFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	p, err := f.path(r.Filepath)
	if err != nil {
		return nil, err
	}
	fl := r.Pflags()
	flags := os.O_WRONLY
	if fl.Read {
		flags = os.O_RDWR
	}
	if fl.Creat {
		flags |= os.O_CREATE
	}
	if fl.Trunc {
		flags |= os.O_TRUNC
	}
	if fl.Excl {
		flags |= os.O_EXCL
	}
	mode := os.FileMode(0o644)
	if a := r.Attributes(); a != nil && r.AttrFlags().Permissions {
		mode = a.FileMode().Perm()
	}
	return os.OpenFile(p, flags, mode)
}

func (f *rootFS) Filecmd(r *sftp.Request) error {
	p, err := f.path(r.Filepath)
	if err != nil {
		return err
	}
	switch r.Method {
	case "Setstat":
		flags := r.AttrFlags()
		attrs := r.Attributes()
		if flags.Permissions {
			if err := os.Chmod(p, attrs.FileMode().Perm()); err != nil {
				return err
			}
		}
		if flags.Size {
			if err := os.Truncate(p, int64(attrs.Size)); err != nil {
				return err
			}
		}
		if flags.Acmodtime {
			if err := os.Chtimes(p, attrs.AccessTime(), attrs.ModTime()); err != nil {
				return err
			}
		}
		return nil
	case "Rename", "PosixRename":
		t, err := f.path(r.Target)
		if err != nil {
			return err
		}
		return os.Rename(p, t)
	case "Rmdir":
		return os.Remove(p)
	case "Remove":
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return errors.New("is a directory")
		}
		return os.Remove(p)
	case "Mkdir":
		return os.Mkdir(p, 0o755)
	case "Link", "Symlink":
		return errNoLinks
	}
	return sftp.ErrSSHFxOpUnsupported
}

func (f *rootFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	p, err := f.path(r.Filepath)
	if err != nil {
		return nil, err
	}
	switch r.Method {
	case "List":
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var list listerAt
		for _, e := range ents {
			if fi, err := e.Info(); err == nil {
				list = append(list, fi)
			}
		}
		return list, nil
	case "Stat":
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		return listerAt{renamed{fi, filepath.Base(r.Filepath)}}, nil
	case "Readlink":
		return nil, errNoLinks
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

type listerAt []os.FileInfo

func (l listerAt) ListAt(dst []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

// renamed reports the name the client asked for (the root shows as "/").
type renamed struct {
	os.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }
