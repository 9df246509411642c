"""A small rule set and H: drive shared by the web and browser retention tests: one file
to keep, one to dispose of, and music whose action each version chooses."""

RULE_SET = """
rule_set: {name}
version: {version}
rules:
  - id: tmp-files
    title: Temporary files
    authority: "Not a record"
    action: dispose
    period: 0d
    select:
      extension: [tmp]
  - id: media
    title: Music
    authority: "Acceptable use"
    action: {media}
    period: 0d
    select:
      extension: [mp3]
default:
  id: everything-else
  action: migrate
"""
HOME_FILES = {"Documents/plan.docx": b"plan", "scratch/build.tmp": b"temporary",
              "Music/song.mp3": b"la la"}
