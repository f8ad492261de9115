"""What every stage uses: running programs, ci_tools' files and cache, atomic
writes, schemas, git, text and markdown that is safe to show, what to install."""
