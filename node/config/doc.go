// Package config is troika-server's configuration: a redis.conf parser
// that behaves like redis-server 7.0's, the table of directives Troika
// understands, and the live Store behind CONFIG GET and CONFIG SET.
//
// # Syntax
//
// A configuration file is read line by line. Each line is trimmed of
// blanks; empty lines and lines starting with '#' are skipped; the rest is
// split into arguments by SplitArgs (Redis's sdssplitargs: "double quotes"
// with \n \r \t \b \a \xHH escapes, 'single quotes' with only \'). The
// first argument names the directive, case-insensitively. A later line
// overrides an earlier one, except for "save", whose lines add up.
// "include path" reads another file at that point (relative to the working
// directory, glob patterns allowed), as Redis does.
//
// Load handles the command line exactly like redis-server: an optional
// configuration file first, "-" to read stdin, then "--directive value..."
// options, each turned into one more configuration line after the file, so
// that they override it. Errors (*Error) read like Redis's FATAL CONFIG
// FILE ERROR report: line number, offending line, and Redis's own reason
// ("argument couldn't be parsed into an integer", "Bad directive or wrong
// number of arguments", ...).
//
// # Directives
//
// Directives lists every directive with its type, default, whether CONFIG
// SET may change it, and a one-line description; MarkdownTable renders the
// README table from it (TestReadmeConfigTable keeps README.md in step:
// UPDATE_README=1 go test -run TestReadmeConfigTable ./node/config rewrites
// it). Config.Values gives a typed snapshot.
//
// debug-bugs and debug-clock-offset-ms are test-only switches (planted
// bugs and a clock shift for troika-jepsen's self-test): any value other
// than the default is refused, at startup and by CONFIG SET, unless
// debug-unsafe (startup only) is yes.
//
// # Runtime
//
// Store wraps a Config for CONFIG GET (glob patterns matched with
// fsm.GlobMatchString, case-insensitively) and CONFIG SET (Redis 7.0's
// error texts), and notifies OnChange subscribers of every change.
package config
