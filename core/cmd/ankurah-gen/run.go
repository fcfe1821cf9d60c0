package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/packages"
)

// defaultOut is the output file's name when -out is not given.
const defaultOut = "ankurah_gen.go"

// config is one run of the generator.
type config struct {
	Dir     string   // directory the go command runs in (relative paths are relative to it)
	Pattern string   // the model package: a directory or an import path
	Types   []string // struct names; empty: every struct marked //ankurah:model
	Out     string   // Go output file; empty: ankurah_gen.go in the package directory
	TS      string   // TypeScript output file; empty: none
	Check   bool     // write nothing; fail with errStale if an output file differs
}

// output is what a run writes.
type output struct {
	GoPath string
	Go     []byte
	TSPath string
	TS     []byte
}

// errStale: with -check, an output file is not what the generator writes.
var errStale = errors.New("ankurah-gen: generated file is out of date")

// run generates and writes the files (with Check, compares them instead).
func run(cfg config) error {
	out, err := generate(cfg)
	if err != nil {
		return err
	}
	files := []struct {
		path string
		src  []byte
	}{{out.GoPath, out.Go}}
	if out.TSPath != "" {
		files = append(files, struct {
			path string
			src  []byte
		}{out.TSPath, out.TS})
	}
	for _, f := range files {
		if cfg.Check {
			if old, err := os.ReadFile(f.path); err != nil || !bytes.Equal(old, f.src) {
				return fmt.Errorf("%w: %s (run go generate)", errStale, f.path)
			}
			continue
		}
		if err := os.WriteFile(f.path, f.src, 0o644); err != nil {
			return fmt.Errorf("%w: %w", errModel, err)
		}
	}
	return nil
}

// generate loads the model package and renders the output without writing it.
func generate(cfg config) (*output, error) {
	if cfg.Dir == "" {
		cfg.Dir = "."
	}
	if cfg.Pattern == "" {
		cfg.Pattern = "."
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errModel, err)
	}
	outPath, err := outputPath(dir, cfg)
	if err != nil {
		return nil, err
	}
	pkg, err := load(dir, cfg.Pattern, outPath)
	if err != nil {
		return nil, err
	}
	models, err := findModels(pkg, cfg.Types, outPath)
	if err != nil {
		return nil, err
	}
	src, err := renderGo(pkg.Types, models)
	if err != nil {
		return nil, err
	}
	res := &output{GoPath: outPath, Go: src}
	if cfg.TS != "" {
		res.TSPath = cfg.TS
		if !filepath.IsAbs(res.TSPath) {
			res.TSPath = filepath.Join(dir, res.TSPath)
		}
		res.TS = renderTS(pkg.Types, models)
	}
	return res, nil
}

// outputPath resolves where the Go output goes.
func outputPath(dir string, cfg config) (string, error) {
	if cfg.Out != "" {
		if filepath.IsAbs(cfg.Out) {
			return cfg.Out, nil
		}
		return filepath.Join(dir, cfg.Out), nil
	}
	if p := cfg.Pattern; p == "." || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || filepath.IsAbs(p) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return filepath.Join(p, defaultOut), nil
	}
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedFiles, Dir: dir}, cfg.Pattern)
	if err != nil {
		return "", fmt.Errorf("%w: load %s: %w", errModel, cfg.Pattern, err)
	}
	if len(pkgs) != 1 || len(pkgs[0].GoFiles) == 0 {
		return "", fmt.Errorf("%w: %s must name exactly one package with Go files", errModel, cfg.Pattern)
	}
	return filepath.Join(filepath.Dir(pkgs[0].GoFiles[0]), defaultOut), nil
}

// load type-checks the model package. The previous output, if any, is
// replaced by an empty file of the same package so that stale generated code
// (for a model that changed since) neither breaks loading nor counts as
// declarations the new output would collide with.
func load(dir, pattern, outPath string) (*packages.Package, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedSyntax |
			packages.NeedTypes | packages.NeedTypesInfo,
		Dir: dir,
	}
	if old, err := os.ReadFile(outPath); err == nil {
		if f, err := parser.ParseFile(token.NewFileSet(), outPath, old, parser.PackageClauseOnly); err == nil {
			cfg.Overlay = map[string][]byte{outPath: []byte("package " + f.Name.Name + "\n")}
		}
	}
	pkgs, err := packages.Load(cfg, pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: load %s: %w", errModel, pattern, err)
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("%w: %s must name exactly one package, names %d", errModel, pattern, len(pkgs))
	}
	pkg := pkgs[0]
	if len(pkg.Errors) > 0 {
		var msgs []string
		for _, e := range pkg.Errors {
			msgs = append(msgs, e.Error())
		}
		return nil, fmt.Errorf("%w: package %s does not compile:\n\t%s", errModel, pattern, strings.Join(msgs, "\n\t"))
	}
	return pkg, nil
}

// sameFile reports whether two paths name the same file.
func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return filepath.Clean(a) == filepath.Clean(b)
}

// header starts every generated file.
func header(comment string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s Code generated by ankurah-gen. DO NOT EDIT.\n", comment)
	return b.Bytes()
}
