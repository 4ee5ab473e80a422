/// ROOT version
pub const ROOT: i32 = 63002;

pub const _ATT_AXIS: i16 = 4;
// ROOT version for TAttAxis
pub const ATT_FILL: i16 = 2;
// ROOT version for TAttFill
/// ROOT version for TAttLine
pub const ATT_LINE: i16 = 2;
pub const ATT_MARKER: i16 = 2;
// ROOT version for TAttMarker
pub const _DATIME: i16 = 1;
// ROOT version for TDatime
/// ROOT version for TNamed
pub const NAMED: i16 = 1;

pub const OBJECT: i16 = 1;
// ROOT version for TObject
/// ROOT version for TObjString
pub const OBJ_STRING: i16 = 1;
/// ROOT version for TProcessID
pub const _PROCESS_ID: i16 = 1;
/// ROOT version for TProcessUUID
#[allow(dead_code)]
pub const PROCESS_UUID: i16 = 1;
/// ROOT version for TRef
#[allow(dead_code)]
pub const REF: i16 = 1;
#[allow(dead_code)]
pub const UUID: i16 = 1;
// ROOT version for TUUID
#[allow(dead_code)]
pub const STRING: i16 = 2;
// ROOT version for TString
#[allow(dead_code)]
pub const ARRAY: i16 = 1;
// ROOT version for TArray
#[allow(dead_code)]
pub const ARRAY_C: i16 = 1;
// ROOT version for TArrayC
// pub const ARRAY_S: i16 = 1;
// // ROOT version for TArrayS
// pub const ARRAY_I: i16 = 1;
// // ROOT version for TArrayI
// pub const ARRAY_L: i16 = 1;
// // ROOT version for TArrayL
// pub const ARRAY_L64: i16 = 1;
// // ROOT version for TArrayL64
// pub const ARRAY_F: i16 = 1;
// // ROOT version for TArrayF
// pub const ARRAY_D: i16 = 1;
// // ROOT version for TArrayD
// pub const BITS: i16 = 1;
// // ROOT version for TBits
// pub const COLLECTION: i16 = 3;
// ROOT version for TCollection
#[allow(dead_code)]
pub const CLONES_ARRAY: i16 = 4;
// ROOT version for TClonesArray
/// ROOT version for TList
pub const LIST: i16 = 5;
// HashList                 = 0  // ROOT version for THashList
// HashTable                = 0  // ROOT version for THashTable
// Map                      = 3  // ROOT version for TMap
/// ROOT version for TObjArray
pub const OBJ_ARRAY: i16 = 3;
// RefArray                 = 1  // ROOT version for TRefArray
// RefTable                 = 3  // ROOT version for TRefTable
// SeqCollection            = 0  // ROOT version for TSeqCollection
/// ROOT version for TStreamerInfo
pub const STREAMER_INFO: i16 = 9;
/// ROOT version for TStreamerElement
pub const STREAMER_ELEMENT: i16 = 4;
/// ROOT version for TStreamerBase
pub const STREAMER_BASE: i16 = 3;
/// ROOT version for TStreamerBasicType
pub const STREAMER_BASIC_TYPE: i16 = 2;
/// ROOT version for TStreamerBasicPointer
pub const STREAMER_BASIC_POINTER: i16 = 2;
// StreamerLoop             = 2  // ROOT version for TStreamerLoop
/// ROOT version for TStreamerObject
pub const STREAMER_OBJECT: i16 = 2;
/// ROOT version for TStreamerObjectPointer
pub const STREAMER_OBJECT_POINTER: i16 = 2;
/// ROOT version for TStreamerObjectAny
pub const STREAMER_OBJECT_ANY: i16 = 2;
// StreamerObjectAnyPointer = 1  // ROOT version for TStreamerObjectAnyPointer
/// ROOT version for TStreamerString
pub const STREAMER_STRING: i16 = 2;
/// ROOT version for TStreamerSTL
pub const STREAMER_STL: i16 = 3;
/// ROOT version for TStreamerSTLstring
pub const STREAMER_STLSTRING: i16 = 2;
// StreamerArtificial       = 0  // ROOT version for TStreamerArtificial
// Axis                     = 10 // ROOT version for TAxis
// ConfidenceLevel          = 1  // ROOT version for TConfidenceLevel
// Efficiency               = 2  // ROOT version for TEfficiency
// F1                       = 12 // ROOT version for TF1
// F1AbsComposition         = 1  // ROOT version for TF1AbsComposition
// F1Convolution            = 1  // ROOT version for TF1Convolution
// F1NormSum                = 1  // ROOT version for TF1NormSum
// F1Parameters             = 1  // ROOT version for TF1Parameters
// Formula                  = 13 // ROOT version for TFormula
// Graph                    = 4  // ROOT version for TGraph
// GraphErrors              = 3  // ROOT version for TGraphErrors
// GraphAsymmErrors         = 3  // ROOT version for TGraphAsymmErrors
// GraphMultiErrors         = 1  // ROOT version for TGraphMultiErrors
// H1                       = 8  // ROOT version for TH1
// H1C                      = 3  // ROOT version for TH1C
// H1D                      = 3  // ROOT version for TH1D
// H1F                      = 3  // ROOT version for TH1F
// H1I                      = 3  // ROOT version for TH1I
// H1K                      = 2  // ROOT version for TH1K
// H1S                      = 3  // ROOT version for TH1S
// H2                       = 5  // ROOT version for TH2
// H2C                      = 4  // ROOT version for TH2C
// H2D                      = 4  // ROOT version for TH2D
// H2F                      = 4  // ROOT version for TH2F
// H2I                      = 4  // ROOT version for TH2I
// H2Poly                   = 3  // ROOT version for TH2Poly
// H2PolyBin                = 1  // ROOT version for TH2PolyBin
// H2S                      = 4  // ROOT version for TH2S
// Limit                    = 2  // ROOT version for TLimit
// LimitDataSource          = 2  // ROOT version for TLimitDataSource
// MultiGraph               = 2  // ROOT version for TMultiGraph
// Profile                  = 7  // ROOT version for TProfile
// Profile2D                = 8  // ROOT version for TProfile2D
pub const DIRECTORY: i16 = 5; // ROOT version for TDirectory
                              // DirectoryFile            = 5  // ROOT version for TDirectoryFile
                              // File                     = 8  // ROOT version for TFile
                              // ROOT version for TKey
pub const KEY: i16 = 4;
// FeldmanCousins           = 1  // ROOT version for TFeldmanCousins
// LorentzVector            = 4  // ROOT version for TLorentzVector
// Vector2                  = 3  // ROOT version for TVector2
// Vector3                  = 3  // ROOT version for TVector3
/// ROOT version for ROOT::TIOFeatures
pub const ROOT_IOFEATURES: i16 = 1;
/// ROOT version for TBasket
pub const BASKET: i16 = 3;
/// ROOT version for TBranch
pub const BRANCH: i16 = 13;
/// ROOT version for TBranchElement
pub const BRANCH_ELEMENT: i16 = 10;
/// ROOT version for TBranchObject
// pub const BRANCH_OBJECT: i16 = 1;
/// ROOT version for TBranchRef
// pub const BRANCH_REF: i16 = 1;
// Chain                    = 5  // ROOT version for TChain
/// ROOT version for TLeaf
#[allow(non_upper_case_globals)]
pub const Leaf: i16 = 2;
#[allow(non_upper_case_globals)]
pub const LeafElement: i16 = 1;
// ROOT version for TLeafElement
#[allow(non_upper_case_globals, dead_code)]
pub const LeafObject: i16 = 4;
// ROOT version for TLeafObject
#[allow(non_upper_case_globals)]
pub const LeafO: i16 = 1;
// ROOT version for TLeafO
#[allow(non_upper_case_globals)]
pub const LeafB: i16 = 1;
// ROOT version for TLeafB
#[allow(non_upper_case_globals)]
pub const LeafS: i16 = 1;
// ROOT version for TLeafS
/// ROOT version for TLeafI
#[allow(non_upper_case_globals)]
pub const LeafI: i16 = 1;
#[allow(non_upper_case_globals)]
pub const LeafL: i16 = 1;
// ROOT version for TLeafL
#[allow(non_upper_case_globals)]
pub const LeafF: i16 = 1;
// ROOT version for TLeafF
#[allow(non_upper_case_globals)]
pub const LeafD: i16 = 1;
// ROOT version for TLeafD
// baler-arrow patch: TLeafF16 and TLeafD32 are read.
#[allow(non_upper_case_globals)]
pub const LeafF16: i16 = 1; // ROOT version for TLeafF16
#[allow(non_upper_case_globals)]
pub const LeafD32: i16 = 1; // ROOT version for TLeafD32
#[allow(non_upper_case_globals)]
pub const LEAF_C: i16 = 1;
// ROOT version for TLeafC
// Ntuple                   = 2  // ROOT version for TNtuple
// NtupleD                  = 1  // ROOT version for TNtupleD
/// ROOT version for TTree
pub const TREE: i16 = 20;
