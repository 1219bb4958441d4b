package main

// The agent image's few commands besides the agent, for bottles on
// smolmachines (the image has no busybox): run as sleep, tar or kill
// (symlinks to /agent on its PATH), it behaves as the part of those
// commands bottle-launch uses.
//
//	sleep infinity|SECONDS
//	tar -x -f - -C DIR            extract stdin into DIR (owners kept as root)
//	tar -c -f - -C DIR NAME...    write a tar of DIR/NAME... to stdout
//	kill -SIGNAL PID...           -TERM, -KILL, -0 or a number; PID -1: every process it may signal

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tool runs the agent binary as the command it was called as; false when it
// is the agent.
func tool() bool {
	switch filepath.Base(os.Args[0]) {
	case "sleep":
		os.Exit(sleepCmd(os.Args[1:]))
	case "tar":
		os.Exit(tarCmd(os.Args[1:]))
	case "kill":
		os.Exit(killCmd(os.Args[1:]))
	}
	return false
}

func sleepCmd(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "sleep: usage: sleep infinity|SECONDS")
		return 1
	}
	if args[0] == "infinity" {
		for {
			time.Sleep(time.Hour)
		}
	}
	s, err := strconv.ParseFloat(args[0], 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sleep: invalid time interval '%s'\n", args[0])
		return 1
	}
	time.Sleep(time.Duration(s * float64(time.Second)))
	return 0
}

func killCmd(args []string) int {
	if len(args) < 2 || !strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(os.Stderr, "kill: usage: kill -SIGNAL PID...")
		return 2
	}
	sig := syscall.Signal(0)
	switch s := strings.TrimPrefix(args[0], "-"); s {
	case "TERM":
		sig = syscall.SIGTERM
	case "KILL":
		sig = syscall.SIGKILL
	case "INT":
		sig = syscall.SIGINT
	default:
		n, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kill: unknown signal %s\n", s)
			return 2
		}
		sig = syscall.Signal(n)
	}
	code := 0
	for _, p := range args[1:] {
		pid, err := strconv.Atoi(p)
		if err == nil {
			err = syscall.Kill(pid, sig)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kill: (%s): %v\n", p, err)
			code = 1
		}
	}
	return code
}

func tarCmd(args []string) int {
	var mode, file, dir string
	var names []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-x", "-c":
			mode = a
		case "-f", "-C":
			if i+1 >= len(args) {
				fmt.Fprintf(os.Stderr, "tar: option requires an argument -- '%s'\n", a[1:])
				return 2
			}
			i++
			if a == "-f" {
				file = args[i]
			} else {
				dir = args[i]
			}
		default:
			if strings.HasPrefix(a, "-") {
				fmt.Fprintf(os.Stderr, "tar: unknown option %s (this tar knows -x, -c, -f -, -C DIR)\n", a)
				return 2
			}
			names = append(names, a)
		}
	}
	if file != "-" || mode == "" {
		fmt.Fprintln(os.Stderr, "tar: usage: tar -x|-c -f - [-C DIR] [NAME...]")
		return 2
	}
	if dir == "" {
		dir = "."
	}
	var err error
	if mode == "-x" {
		err = extract(os.Stdin, dir)
	} else {
		err = archive(os.Stdout, dir, names)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tar:", err)
		return 2
	}
	return 0
}

func extract(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	root := os.Geteuid() == 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, os.FileMode(h.Mode).Perm()); err != nil {
				return err
			}
			if err := os.Chmod(target, os.FileMode(h.Mode).Perm()); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			continue
		}
		if root {
			if err := os.Lchown(target, h.Uid, h.Gid); err != nil {
				return err
			}
		}
	}
}

func archive(w io.Writer, dir string, names []string) error {
	tw := tar.NewWriter(w)
	for _, n := range names {
		err := filepath.WalkDir(filepath.Join(dir, n), func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			fi, err := de.Info()
			if err != nil {
				return err
			}
			h, err := tar.FileInfoHeader(fi, "")
			if err != nil {
				return err
			}
			h.Name = filepath.ToSlash(rel)
			if de.IsDir() {
				h.Name += "/"
			}
			switch {
			case de.IsDir():
				return tw.WriteHeader(h)
			case fi.Mode().IsRegular():
				if err := tw.WriteHeader(h); err != nil {
					return err
				}
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = io.Copy(tw, f)
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return tw.Close()
}
