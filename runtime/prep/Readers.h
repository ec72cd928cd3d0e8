// Readers of screens' metadata (docs/data.md lists the formats): each turns
// a format's index files into a SiteIndex naming the image files of every
// site; the images themselves are decoded when packing (prep/Pack.h).
#pragma once

#include "exprt/Status.h"
#include "prep/SiteIndex.h"

#include <functional>
#include <string>
#include <vector>

namespace exprt {

// RxRx1: `root`/metadata.csv (site_id, well_id, cell_type, dataset,
// experiment, plate, well, site, well_type, sirna, sirna_id) and
// `root`/images/{experiment}/Plate{plate}/{well}_s{site}_w{1..channels}.png.
// Negative controls are `well_type` negative_control; `dataset` is the split;
// `plate` is experiment/plate (unique), `plate_number` the plate's number.
Status readRxrx1(const std::string &root, int64_t channels, SiteIndex &index);

// RxRx19a: `root`/metadata.csv (site_id, well_id, cell_type, experiment,
// plate, well, site, disease_condition, treatment, treatment_conc, SMILES)
// and `root`/images/{experiment}/Plate{plate}/{well}_s{site}_w{1..5}.png.
// A perturbation is treatment@treatment_conc; wells without a treatment
// are the controls; `disease_condition` and `smiles` are kept.
Status readRxrx19a(const std::string &root, SiteIndex &index);

// RxRx3-core: `root`/metadata_rxrx3_core.csv(.gz) (well_id, experiment_name,
// plate, address, gene, treatment, SMILES, concentration, perturbation_type,
// cell_type; one site per well) and WebDataset tar shards anywhere under
// `root` holding {experiment_name}/Plate{plate}/{address}_s1_{1..6}.jp2.
// EMPTY_control and CRISPR_control wells are the controls; a perturbation is
// its treatment. There is no split unless the table has a `split` column
// (the simulated screen writes one); every site is `train` otherwise.
// Files are "SHARD!/MEMBER" (kMemberSeparator); a well without a member
// for a channel is an error naming the metadata line.
Status readRxrx3Core(const std::string &root, SiteIndex &index);

// A Cell Painting "load_data" CSV (JUMP, the Cell Painting Gallery):
// Metadata_Plate, Metadata_Well, Metadata_Site and FileName_Orig{Channel} /
// PathName_Orig{Channel} for each of `channels` (e.g. DNA, ER, RNA, AGP,
// Mito); relative paths are relative to the CSV's folder. Optional
// Metadata_Batch, Metadata_Source and a perturbation column.
Status readLoadData(const std::string &csv, const std::vector<std::string> &channels,
                    const std::string &perturbationColumn, SiteIndex &index);

// The `cellpainting` source: a load_data CSV whose first `channels`
// FileName_Orig{Channel} columns (in the header's order) name the images;
// the perturbation is the first of Metadata_Perturbation, Metadata_JCP2022,
// Metadata_broad_sample, Metadata_pert_iname, Metadata_Compound,
// Metadata_Treatment; DMSO (by name or JUMP id) or Metadata_control_type
// `negcon` is the control; Metadata_Split (train/val/test) is the split,
// all `train` without it.
Status readCellPainting(const std::string &csv, int64_t channels, SiteIndex &index);

// Bray et al. 2017 as CLOOME preprocessed it: an index CSV (SAMPLE_KEY as
// PLATE-WELL-SITE, PLATE_ID, WELL_POSITION, SITE, SMILES, CPD_NAME) and one
// `imageDir`/{SAMPLE_KEY}.npz per site holding `sample`, uint8
// 520x696x5 in channel order Mito, ERSyto, ERSytoBleed, Ph_golgi, Hoechst.
// DMSO (by name or SMILES CS(C)=O) is the negative control. `split`
// (train/val/test, 80/10/10) keeps each compound's sites together
// (`random`) or each Bemis-Murcko scaffold's (`scaffold`, through
// `scaffoldOf`, the side stage's RDKit one, side/Molecules.h
// murckoScaffold: an unparsable SMILES is an error naming its line); DMSO
// sites split by site.
using ScaffoldFn = std::function<Status(const std::string &smiles, std::string &scaffold)>;
Status readBray(const std::string &indexCsv, const std::string &imageDir, const std::string &split,
                SiteIndex &index, const ScaffoldFn &scaffoldOf = {});

// JUMP (cpg0016-style) under `root`: metadata/plate.csv.gz (source, batch,
// plate), metadata/well.csv.gz (plate, well -> JCP2022 id; DMSO,
// `kJumpControl`, is the negative control), optionally metadata/split.csv
// (plate -> train/test), and per plate
// load_data_csv/{batch}/{plate}/load_data.csv(.gz) naming the first
// `channels` of `jumpChannels()`. A load_data well missing from well.csv is
// an error naming the load_data line. Where metadata/compound.csv.gz,
// crispr.csv.gz or orf.csv.gz are present, each site's perturbation_type
// (control, compound, crispr, orf), smiles and gene come from them.
Status readJump(const std::string &root, int64_t channels, SiteIndex &index);

// DMSO's JUMP identifier.
inline constexpr const char *kJumpControl = "JCP2022_033924";
// The channels of JUMP's load_data files, in the order the readers take them.
const std::vector<std::string> &jumpChannels();

} // namespace exprt
