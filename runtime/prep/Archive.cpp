#include "prep/Archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

namespace exprt {

Status readArchive(const std::string &path,
                   const std::function<bool(const std::string &, const std::string &)> &visit) {
  std::unique_ptr<archive, int (*)(archive *)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_all(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    return Status::error(path + ": cannot open as an archive: " + archive_error_string(a.get()));
  archive_entry *entry = nullptr;
  std::string name;
  for (;;) {
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF)
      return Status::ok();
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      return Status::error(path + ": corrupt archive" + (name.empty() ? "" : " after `" + name + "`") +
                           ": " + archive_error_string(a.get()));
    name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (archive_entry_filetype(entry) != AE_IFREG)
      continue;
    std::string bytes;
    if (archive_entry_size_is_set(entry))
      bytes.reserve(static_cast<size_t>(archive_entry_size(entry)));
    char buf[1 << 16];
    for (la_ssize_t n; (n = archive_read_data(a.get(), buf, sizeof buf)) != 0;) {
      if (n < 0)
        return Status::error(path + ": cannot read `" + name + "` (truncated or corrupt): " +
                             archive_error_string(a.get()));
      bytes.append(buf, static_cast<size_t>(n));
    }
    if (archive_entry_size_is_set(entry) &&
        static_cast<la_int64_t>(bytes.size()) != archive_entry_size(entry))
      return Status::error(path + ": `" + name + "` is truncated");
    if (!visit(name, bytes))
      return Status::ok();
  }
}

} // namespace exprt
