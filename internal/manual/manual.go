// Package manual makes the toolkit's man pages and shell completion
// scripts from the tools' own parsers (each tool's Manual), so that --help,
// `man bottle-ls` and completion say the same. They are checked in under
// docs/ (`make man` writes them; TestFilesAreCurrent fails when one is
// stale) and installed by `make install`.
package manual

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jessevdk/go-flags"

	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/tool/cleanuptool"
	"github.com/claude-bottle/bottle/internal/tool/launchtool"
	"github.com/claude-bottle/bottle/internal/tool/lstool"
	"github.com/claude-bottle/bottle/internal/tool/plantool"
	"github.com/claude-bottle/bottle/internal/tool/reaptool"
)

// Where the files go, relative to the repository's root.
const (
	ManDir        = "docs/man"
	CompletionDir = "docs/completion"
	BashFile      = CompletionDir + "/bottle.bash"
	ZshFile       = CompletionDir + "/_bottle"
)

// Manuals are the tools' manuals, in cli.Tools order.
func Manuals() []cli.Manual {
	return []cli.Manual{lstool.Manual(), plantool.Manual(), reaptool.Manual(), cleanuptool.Manual(), launchtool.Manual()}
}

// Files returns every generated file by its path under the repository at
// root: a man page per tool, the bash and zsh completion scripts, and each
// tool's docs page (docs/<tool>.md) with its flags table made anew.
func Files(root string) (map[string][]byte, error) {
	files := map[string][]byte{}
	var names []string
	for _, m := range Manuals() {
		var b bytes.Buffer
		if err := m.WriteManPage(&b); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		files[filepath.ToSlash(filepath.Join(ManDir, m.Name+".1"))] = b.Bytes()
		names = append(names, m.Name)
		page := "docs/" + m.Name + ".md"
		doc, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
		if err != nil {
			return nil, err
		}
		table, err := FlagsTable(m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		if files[page], err = replaceRegion(doc, table); err != nil {
			return nil, fmt.Errorf("%s: %w", page, err)
		}
	}
	files[BashFile] = []byte(strings.ReplaceAll(bash, "@TOOLS@", strings.Join(names, " ")))
	files[ZshFile] = []byte(strings.ReplaceAll(zsh, "@TOOLS@", strings.Join(names, " ")))
	return files, nil
}

// Write writes Files under root and removes a page of a tool that is no
// more; it returns the paths it changed.
func Write(root string) ([]string, error) {
	files, err := Files(root)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, p := range sorted(files) {
		abs := filepath.Join(root, filepath.FromSlash(p))
		if old, err := os.ReadFile(abs); err == nil && bytes.Equal(old, files[p]) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return changed, err
		}
		if err := os.WriteFile(abs, files[p], 0o644); err != nil {
			return changed, err
		}
		changed = append(changed, p)
	}
	stale, _ := filepath.Glob(filepath.Join(root, ManDir, "*.1"))
	for _, abs := range stale {
		p := filepath.ToSlash(filepath.Join(ManDir, filepath.Base(abs)))
		if _, ok := files[p]; !ok {
			if err := os.Remove(abs); err != nil {
				return changed, err
			}
			changed = append(changed, p)
		}
	}
	return changed, nil
}

func sorted(files map[string][]byte) []string {
	var ps []string
	for p := range files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// The flags table of a tool's docs page sits between these lines.
const (
	flagsBegin = "<!-- flags: made from the tool's own flags by `make man` (as --help and the man page); do not edit -->"
	flagsEnd   = "<!-- end of flags -->"
)

// FlagsTable is a tool's flags as a Markdown table: each option as --help
// lists it, its value name and default, and its description.
func FlagsTable(m cli.Manual) (string, error) {
	p, err := m.Parser()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| flag | meaning |\n|---|---|\n")
	var walk func(g *flags.Group)
	walk = func(g *flags.Group) {
		for _, o := range g.Options() {
			if o.Hidden {
				continue
			}
			var names []string
			if o.ShortName != 0 {
				names = append(names, "`-"+string(o.ShortName)+"`")
			}
			long := "--" + o.LongName
			if o.ValueName != "" {
				long += " " + o.ValueName
			}
			names = append(names, "`"+long+"`")
			desc := o.Description
			if len(o.Default) > 0 {
				desc += " (default " + strings.Join(o.Default, ", ") + ")"
			}
			fmt.Fprintf(&b, "| %s | %s |\n", strings.Join(names, ", "), strings.ReplaceAll(desc, "|", `\|`))
		}
		for _, sub := range g.Groups() {
			walk(sub)
		}
	}
	walk(p.Group)
	return b.String(), nil
}

// replaceRegion puts table between the flags markers of doc.
func replaceRegion(doc []byte, table string) ([]byte, error) {
	s := string(doc)
	i, j := strings.Index(s, flagsBegin+"\n"), strings.Index(s, flagsEnd)
	if i < 0 || j < i {
		return nil, fmt.Errorf("no flags table: put the lines %q and %q where it goes", flagsBegin, flagsEnd)
	}
	return []byte(s[:i+len(flagsBegin)+1] + table + s[j:]), nil
}

// bash is the bash completion: every tool completes its own arguments
// (go-flags' GO_FLAGS_COMPLETION); where it offers nothing (a file, a
// directory), bash completes file names.
const bash = `# bash completion for the bottle tools: @TOOLS@
# Generated by ` + "`make man`" + ` from the tools' own flags (internal/manual); do not edit.
# Each tool completes its own flags and their values (go-flags' GO_FLAGS_COMPLETION): the fixed
# ones, the docker contexts (--context) and the state dirs (--name, --resume) of the state root
# typed on the line or $BOTTLE_STATE_DIR; where it offers nothing, bash completes file names.
# A tool looks for at most a second; timeout(1), where there is one, kills it after two.
# Installed by ` + "`make install`" + ` (PREFIX/share/bash-completion/completions); or: source this file.
_bottle() {
    local line=${COMP_LINE:0:COMP_POINT} args
    read -ra args <<<"$line"
    [[ $line == *[[:space:]] ]] && args+=("")
    local last=${args[${#args[@]}-1]} IFS=$'\n'
    if type -P timeout >/dev/null; then
        COMPREPLY=($(GO_FLAGS_COMPLETION=1 timeout -s KILL 2 "${args[@]}" 2>/dev/null))
    else
        COMPREPLY=($(GO_FLAGS_COMPLETION=1 "${args[@]}" 2>/dev/null))
    fi
    # bash completes --kind=vol from after the = (COMP_WORDBREAKS)
    if [[ $last == --*=* && $COMP_WORDBREAKS == *=* ]]; then
        COMPREPLY=("${COMPREPLY[@]#"${last%%=*}="}")
    fi
    return 0
}
complete -o default -F _bottle @TOOLS@
`

// zsh is the zsh completion, an autoloaded function file as compinit
// expects it: the candidates with their descriptions, else file names.
const zsh = `#compdef @TOOLS@
# zsh completion for the bottle tools.
# Generated by ` + "`make man`" + ` from the tools' own flags (internal/manual); do not edit.
# Each tool completes its own flags and their values (go-flags' GO_FLAGS_COMPLETION=verbose:
# "item  # description"): the fixed ones, the docker contexts (--context) and the state dirs
# (--name, --resume) of the state root typed on the line or $BOTTLE_STATE_DIR; where it offers
# nothing, zsh completes file names. A tool looks for at most a second; timeout(1), where there
# is one, kills it after two.
# Installed by ` + "`make install`" + ` (PREFIX/share/zsh/site-functions, which must be on $fpath
# before compinit runs); or: fpath=(/path/to/docs/completion $fpath); autoload -Uz compinit; compinit
local -a lines items bound
local line item desc
(( $+commands[timeout] )) && bound=(timeout -s KILL 2)
lines=("${(@f)$(GO_FLAGS_COMPLETION=verbose $bound $words[1] "${(@)words[2,CURRENT]}" 2>/dev/null)}")
for line in $lines; do
  [[ -z $line ]] && continue
  item=$line desc=
  if [[ $line == *'  # '* ]]; then
    item=${line%% *} desc=${line#*  \# }
  fi
  items+=("${item//:/\\:}${desc:+:$desc}")
done
if (( $#items )); then
  _describe -t values 'bottle argument' items
else
  _files
fi
`
