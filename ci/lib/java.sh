# Sourced by the project's scripts: exports JAVA_HOME for a JDK >= 25, or stops with what to do.
# Order: $JAVA_HOME if it is 25+, then JDKs under /usr/lib/jvm (newest first), then java on PATH.

kb_jdk_feature() { # prints the feature release of the JDK at $1 (e.g. 25), or nothing
  local home=$1 v=""
  [ -x "$home/bin/javac" ] || return 0
  if [ -f "$home/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release")
  fi
  if [ -z "$v" ]; then
    v=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
  fi
  echo "$v"
}

kb_find_jdk() {
  local candidate feature
  for candidate in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV) \
                   "$(dirname "$(dirname "$(readlink -f "$(command -v javac 2>/dev/null || echo /nonexistent)")")")"; do
    [ -n "$candidate" ] || continue
    candidate=${candidate%/}
    feature=$(kb_jdk_feature "$candidate")
    if [ -n "$feature" ] && [ "$feature" -ge 25 ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! KB_JDK=$(kb_find_jdk); then
  echo "KernelBridge needs a JDK 25 or newer and found none (checked JAVA_HOME, /usr/lib/jvm, PATH)." >&2
  echo "Install one, e.g. Temurin 25 (package temurin-25-jdk from the Adoptium repository), or point JAVA_HOME at it." >&2
  exit 3
fi
export JAVA_HOME=$KB_JDK
export PATH="$JAVA_HOME/bin:$PATH"
