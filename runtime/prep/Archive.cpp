#include "prep/Archive.h"

#include "features/Switches.h"

#if EXP_WITH_LIBARCHIVE
#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <memory>

namespace exprt {

namespace {

// Visits each regular file's header; `body` reads (or skips) its data.
Status walkArchive(const std::string &path,
                   const std::function<Status(archive *, const std::string &, archive_entry *, bool &)> &body) {
  std::unique_ptr<archive, int (*)(archive *)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_all(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    return Status::error(ErrorKind::InputUnreadable, path + ": cannot open as an archive: " + archive_error_string(a.get()));
  archive_entry *entry = nullptr;
  std::string name;
  for (;;) {
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF)
      return Status::ok();
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      return Status::error(ErrorKind::InputMalformed, path + ": corrupt archive" + (name.empty() ? "" : " after `" + name + "`") +
                           ": " + archive_error_string(a.get()));
    name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (archive_entry_filetype(entry) != AE_IFREG)
      continue;
    bool more = true;
    if (Status s = body(a.get(), name, entry, more); !s || !more)
      return s;
  }
}

} // namespace

Status readArchive(const std::string &path,
                   const std::function<bool(const std::string &, const std::string &)> &visit) {
  return walkArchive(path, [&](archive *a, const std::string &name, archive_entry *entry, bool &more) {
    std::string bytes;
    if (archive_entry_size_is_set(entry))
      bytes.reserve(static_cast<size_t>(archive_entry_size(entry)));
    char buf[1 << 16];
    for (la_ssize_t n; (n = archive_read_data(a, buf, sizeof buf)) != 0;) {
      if (n < 0)
        return Status::error(ErrorKind::InputMalformed, path + ": cannot read `" + name + "` (truncated or corrupt): " +
                             archive_error_string(a));
      bytes.append(buf, static_cast<size_t>(n));
    }
    if (archive_entry_size_is_set(entry) &&
        static_cast<la_int64_t>(bytes.size()) != archive_entry_size(entry))
      return Status::error(ErrorKind::InputMalformed, path + ": `" + name + "` is truncated");
    more = visit(name, bytes);
    return Status::ok();
  });
}

Status listArchive(const std::string &path, const std::function<void(const std::string &)> &visit) {
  std::error_code ec;
  const auto fileSize = static_cast<la_int64_t>(std::filesystem::file_size(path, ec));
  return walkArchive(path, [&](archive *a, const std::string &name, archive_entry *entry, bool &) {
    // Skipping seeks past the data without reading it, so a truncated
    // uncompressed tar shows only here: its member ends past the file's end.
    if (archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE && !ec && archive_entry_size_is_set(entry) &&
        archive_read_header_position(a) + 512 + archive_entry_size(entry) > fileSize)
      return Status::error(ErrorKind::InputMalformed, path + ": `" + name + "` is truncated (the archive ends inside it)");
    if (archive_read_data_skip(a) != ARCHIVE_OK)
      return Status::error(ErrorKind::InputMalformed, path + ": cannot skip `" + name + "` (truncated or corrupt): " + archive_error_string(a));
    visit(name);
    return Status::ok();
  });
}

Status writeTar(const std::string &path, const std::vector<std::pair<std::string, std::string>> &entries) {
  const std::string tmp = path + ".tmp";
  std::unique_ptr<archive, int (*)(archive *)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_pax_restricted(a.get()); // ustar where names fit, as WebDataset's writers do
  if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK)
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot create: " + archive_error_string(a.get()));
  bool ok = true;
  for (const auto &[name, bytes] : entries) {
    std::unique_ptr<archive_entry, void (*)(archive_entry *)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(bytes.size()));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    ok = ok && archive_write_header(a.get(), e.get()) == ARCHIVE_OK &&
         archive_write_data(a.get(), bytes.data(), bytes.size()) == static_cast<la_ssize_t>(bytes.size());
  }
  ok = archive_write_close(a.get()) == ARCHIVE_OK && ok;
  std::error_code ec;
  if (!ok) {
    std::string why = archive_error_string(a.get()) ? archive_error_string(a.get()) : "write failed";
    std::filesystem::remove(tmp, ec);
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot write: " + why);
  }
  std::filesystem::rename(tmp, path, ec);
  return ec ? Status::error(ErrorKind::OutputUnwritable, path + ": cannot rename into place: " + ec.message()) : Status::ok();
}

} // namespace exprt
#else
namespace exprt {

Status readArchive(const std::string &path, const std::function<bool(const std::string &, const std::string &)> &) {
  return missingFeature(BuildFeature::Archive, path);
}
Status listArchive(const std::string &path, const std::function<void(const std::string &)> &) {
  return missingFeature(BuildFeature::Archive, path);
}
Status writeTar(const std::string &path, const std::vector<std::pair<std::string, std::string>> &) {
  return missingFeature(BuildFeature::Archive, path);
}

} // namespace exprt
#endif
